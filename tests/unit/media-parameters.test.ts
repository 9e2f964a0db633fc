// The mediasoup parameter objects in call.* frames, checked by shape at the wire
// (src/lib/shared/protocol/media-parameters.ts): what Chromium, Firefox and Safari send through
// mediasoup-client passes untouched; junk is refused with the path of the problem and without
// echoing the value; unknown keys are dropped before mediasoup sees them.
import { describe, expect, it } from 'vitest';
import { FakeMediaStreamTrack } from 'fake-mediastreamtrack';
import { Device, FakeHandler, testFakeParameters } from 'mediasoup-client';
import { parseClientFrame } from '#lib/shared/protocol/frames.ts';
import { BROWSERS } from '../helpers/media-samples.ts';

const transportId = '5d2f0a8e-7c41-4b9a-9e3d-2a6c8f1b4e70';
const producerId = '8a1e4c7b-2d9f-4e06-b3a5-6c0d9e8f7a21';

const connect = (dtlsParameters: unknown) => ({ t: 'call.transport.connect', id: 'r1', transportId, dtlsParameters });
const produce = (rtpParameters: unknown, kind = 'audio') => ({ t: 'call.produce', id: 'r1', transportId, kind, source: kind === 'audio' ? 'mic' : 'camera', rtpParameters });
const consume = (rtpCapabilities: unknown) => ({ t: 'call.consume', id: 'r1', transportId, producerId, rtpCapabilities });
const parse = (frame: unknown) => parseClientFrame(JSON.stringify(frame));

function refused(frame: unknown): string {
	const result = parse(frame);
	if (result.ok) throw new Error(`accepted: ${JSON.stringify(frame).slice(0, 200)}`);
	expect(result.id).toBe('r1');
	return result.error;
}

describe('call.* media parameters', () => {
	for (const [browser, sample] of Object.entries(BROWSERS)) {
		it(`accepts what ${browser} sends, unchanged`, () => {
			for (const frame of [connect(sample.dtlsParameters), produce(sample.mic), produce(sample.camera, 'video'), consume(sample.recvRtpCapabilities)]) {
				expect(parse(frame)).toEqual({ ok: true, frame });
			}
		});
	}

	it("accepts what mediasoup-client itself hands over (its FakeHandler: connect, microphone, simulcast camera, receive capabilities)", async () => {
		const device = new Device({ handlerFactory: FakeHandler.createFactory(testFakeParameters) });
		await device.load({ routerRtpCapabilities: testFakeParameters.generateRouterRtpCapabilities() });
		const sent: unknown[] = [consume(device.recvRtpCapabilities)];
		const transport = device.createSendTransport(testFakeParameters.generateTransportRemoteParameters());
		transport.on('connect', ({ dtlsParameters }, callback) => {
			sent.push(connect(dtlsParameters));
			callback();
		});
		transport.on('produce', ({ kind, rtpParameters }, callback) => {
			sent.push(produce(rtpParameters, kind));
			callback({ id: crypto.randomUUID() });
		});
		await transport.produce({ track: new FakeMediaStreamTrack({ kind: 'audio' }) as unknown as MediaStreamTrack });
		await transport.produce({
			track: new FakeMediaStreamTrack({ kind: 'video' }) as unknown as MediaStreamTrack,
			encodings: [{ maxBitrate: 150_000, scaleResolutionDownBy: 4 }, { maxBitrate: 500_000, scaleResolutionDownBy: 2 }, { maxBitrate: 1_500_000 }]
		});
		expect(sent.map((frame) => (frame as { t: string }).t)).toEqual(['call.consume', 'call.transport.connect', 'call.produce', 'call.produce']);
		// Unchanged: nothing mediasoup-client sends is dropped as unknown.
		for (const frame of sent) expect(parse(frame)).toEqual({ ok: true, frame: JSON.parse(JSON.stringify(frame)) });
		transport.close();
	});

	it('drops keys it does not know instead of passing them to mediasoup', () => {
		const sample = { ...BROWSERS.chromium.mic, futureField: { deep: true } } as Record<string, unknown>;
		const result = parse(produce(sample));
		expect(result.ok).toBe(true);
		if (result.ok && result.frame.t === 'call.produce') {
			expect(result.frame.rtpParameters).not.toHaveProperty('futureField');
			expect(result.frame.rtpParameters).toEqual(BROWSERS.chromium.mic);
		}
	});

	it('refuses DTLS parameters without a usable fingerprint', () => {
		expect(refused(connect({ role: 'client', fingerprints: [] }))).toBe('dtlsParameters: fingerprints: at least one fingerprint');
		expect(refused(connect({ fingerprints: [{ algorithm: 'md5', value: 'AB:CD' }] }))).toMatch(/^dtlsParameters: fingerprints\.0\.algorithm: /);
		expect(refused(connect({ fingerprints: [{ algorithm: 'sha-256', value: 'not hex at all' }] }))).toBe('dtlsParameters: fingerprints.0.value: a fingerprint is hex pairs separated by colons');
		expect(refused(connect({ role: 'boss', fingerprints: [{ algorithm: 'sha-256', value: 'AB:CD' }] }))).toMatch(/^dtlsParameters: role: /);
		expect(refused(connect('sha-256'))).toBe('dtlsParameters: must be an object');
		expect(refused(connect([1, 2]))).toBe('dtlsParameters: must be an object');
	});

	it('refuses RTP parameters of the wrong types, out of range or oversized', () => {
		const mic = BROWSERS.chromium.mic as { codecs: Record<string, unknown>[]; encodings: Record<string, unknown>[] };
		const codec = mic.codecs[0]!;
		expect(refused(produce({ codecs: [] }))).toBe('rtpParameters: codecs: at least one codec');
		expect(refused(produce({ codecs: 'opus' }))).toMatch(/^rtpParameters: codecs: /);
		expect(refused(produce({ codecs: [{ ...codec, payloadType: 300 }] }))).toMatch(/^rtpParameters: codecs\.0\.payloadType: /);
		expect(refused(produce({ codecs: [{ ...codec, mimeType: 'application/x-evil' }] }))).toBe('rtpParameters: codecs.0.mimeType: mimeType must be audio/… or video/…');
		expect(refused(produce({ codecs: [{ ...codec, parameters: { nested: { a: 1 } } }] }))).toMatch(/^rtpParameters: codecs\.0\.parameters\.nested: /);
		expect(refused(produce({ codecs: [{ ...codec, parameters: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, i])) }] }))).toBe('rtpParameters: codecs.0.parameters: at most 32 codec parameters');
		expect(refused(produce({ codecs: Array.from({ length: 65 }, () => codec) }))).toMatch(/^rtpParameters: codecs: /);
		expect(refused(produce({ codecs: [codec], encodings: Array.from({ length: 9 }, (_, i) => ({ ssrc: i })) }))).toMatch(/^rtpParameters: encodings: /);
		expect(refused(produce({ codecs: [codec], encodings: [{ ssrc: -1 }] }))).toMatch(/^rtpParameters: encodings\.0\.ssrc: /);
		expect(refused(produce({ codecs: [codec], encodings: [{ ssrc: 2 ** 32 }] }))).toMatch(/^rtpParameters: encodings\.0\.ssrc: /);
		expect(refused(produce({ codecs: [codec], encodings: [{ rid: 'r 0; drop' }] }))).toBe('rtpParameters: encodings.0.rid: rid must be 1-32 letters, digits, - or _');
		expect(refused(produce({ codecs: [codec], encodings: [{ scalabilityMode: 'turbo' }] }))).toBe('rtpParameters: encodings.0.scalabilityMode: scalabilityMode must look like L1T3');
		expect(refused(produce({ codecs: [codec], headerExtensions: [{ uri: 'urn:x', id: 0 }] }))).toMatch(/^rtpParameters: headerExtensions\.0\.id: /);
		expect(refused(produce({ codecs: [codec], rtcp: { cname: 'x'.repeat(10_000) } }))).toMatch(/^rtpParameters: rtcp\.cname: /);
		expect(refused(produce({ codecs: [{ ...codec, clockRate: 48000.5 }] }))).toMatch(/^rtpParameters: codecs\.0\.clockRate: /);
	});

	it('refuses RTP capabilities that are not capabilities', () => {
		const caps = BROWSERS.chromium.recvRtpCapabilities as { codecs: Record<string, unknown>[] };
		expect(refused(consume({ codecs: [{ ...caps.codecs[0], kind: 'data' }] }))).toMatch(/^rtpCapabilities: codecs\.0\.kind: /);
		expect(refused(consume({ codecs: [{ ...caps.codecs[0], clockRate: '48000' }] }))).toMatch(/^rtpCapabilities: codecs\.0\.clockRate: /);
		expect(refused(consume({ headerExtensions: [{ kind: 'audio', uri: 'urn:x', preferredId: 1, direction: 'sideways' }] }))).toMatch(/^rtpCapabilities: headerExtensions\.0\.direction: /);
		expect(refused(consume(null))).toBe('rtpCapabilities: must be an object');
	});

	it('never echoes the refused value in the error', () => {
		const canary = `CANARY${Math.random().toString(36).slice(2)}`;
		const codec = (BROWSERS.firefox.mic as { codecs: Record<string, unknown>[] }).codecs[0]!;
		const errors = [
			refused(produce({ codecs: [{ ...codec, mimeType: canary }] })),
			refused(produce({ codecs: [{ ...codec, parameters: { x: { canary } } }] })),
			refused(connect({ fingerprints: [{ algorithm: canary, value: canary }] })),
			refused(consume({ codecs: [{ kind: canary }] }))
		];
		for (const error of errors) expect(error).not.toContain(canary);
	});
});
