// The E2EE benchmark scenarios, written once and run in two places: in Chromium (bench/e2ee-browser.ts
// bundles this module with the product's own sources) and in Node (bench/e2ee-node.ts). Nothing here
// may import a Node or a DOM API beyond what both have (performance.now, ReadableStream, TextEncoder).
//
// Every measured operation is the product's code path, end to end on one device pair: encode the
// message content, encrypt, serialise the payload, then on the receiving side parse it, verify,
// decrypt and decode the content. The no-crypto baseline is the same content through
// encodeMessageContent / decodeMessageContent alone (JSON and schema check), so the difference to it
// is what encryption adds.
import type { PrekeyBundle } from '#lib/shared/e2ee.ts';
import { ARGON2ID_MODERATE, argon2idKey, loadArgon2idSodium } from '#lib/client/e2ee/argon2id.ts';
import { decryptStream, encryptFile } from '#lib/client/e2ee/attachment-crypto.ts';
import { generateIdentityKeyPair, generateOneTimePrekeys, generateSignedPrekey, publicOneTimePrekey, publicSignedPrekey, type IdentityKeyPair } from '#lib/client/e2ee/device-keys.ts';
import { decryptDmMessage, encryptDmMessage, type DmRecipient } from '#lib/client/e2ee/dm-message.ts';
import { parseEncryptedPayload, parseToDeviceContent, type DmPayload, type SenderKeyPayload, type SenderKeyDistribution } from '#lib/client/e2ee/envelopes.ts';
import { createMessageContent, decodeMessageContent, encodeMessageContent, type MessageContent } from '#lib/client/e2ee/message-content.ts';
import {
	createInboundSession,
	createOutboundSession,
	encryptPairwise,
	pickSendingSession,
	type LocalPrekeys,
	type PairwiseSession
} from '#lib/client/e2ee/pairwise-session.ts';
import { createOutboundSenderKey, decryptWithSenderKey, encryptWithSenderKey, exportSenderKey, importSenderKey, senderKeyNeedsRotation } from '#lib/client/e2ee/sender-key.ts';
import { loadSodium, type Sodium } from '#lib/client/e2ee/sodium.ts';
import { Histogram } from './histogram.ts';

export type ScenarioOptions = {
	/** Messages measured per message scenario (after a warm-up of a tenth as many, at least 50). */
	messages: number;
	/** Devices in the sender-key distribution scenario. */
	devices: number;
	/** Batches measured in the distribution scenario. */
	distributionRuns: number;
	/** Bytes of the attachment, and how many times it is encrypted and decrypted. */
	attachmentBytes: number;
	attachmentRuns: number;
	/** Argon2id MODERATE derivations measured (each about a second of CPU and 256 MiB); 0 skips them. */
	argon2Runs: number;
	/** Encoded message content sizes in bytes (UTF-8 of the content JSON). */
	sizes: number[];
};

export const DEFAULT_SCENARIO_OPTIONS: ScenarioOptions = {
	messages: 2000,
	devices: 100,
	distributionRuns: 10,
	attachmentBytes: 10_000_000,
	attachmentRuns: 5,
	argon2Runs: 3,
	sizes: [200, 4096]
};

/** One timed operation: milliseconds per operation. */
export type TimingRow = { id: string; label: string; count: number; mean: number; p50: number; p95: number; p99: number; max: number };
/** One throughput figure: the median of the runs. */
export type ThroughputRow = { id: string; label: string; bytes: number; runsMs: number[]; medianMs: number; mbPerSecond: number };

export type ScenarioResults = {
	options: ScenarioOptions;
	libsodium: string;
	/** First loadSodium() (fetch/compile of the standard wasm build) and first load of the sumo build (Argon2id). */
	loadMs: { sodium: number; sumo: number };
	timings: TimingRow[];
	throughputs: ThroughputRow[];
};

const CHANNEL = '11111111-1111-4111-8111-111111111111';
const USER_A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const USER_B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const deviceId = (n: number) => `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;

type Device = { id: string; userId: string; identity: IdentityKeyPair; local: LocalPrekeys; bundle: () => PrekeyBundle };

/**
 * A device with a signed prekey and one-time prekeys. Each claimed bundle carries a fresh one-time
 * prekey, as the server hands out a different one per claim.
 */
function makeDevice(sodium: Sodium, n: number, userId: string): Device {
	const identity = generateIdentityKeyPair(sodium);
	const signedPrekey = generateSignedPrekey(sodium, identity, 1);
	const oneTime = new Map<number, ReturnType<typeof generateOneTimePrekeys>[number]>();
	let nextId = 1;
	return {
		id: deviceId(n),
		userId,
		identity,
		local: { identity, signedPrekey: (id) => (id === signedPrekey.id ? signedPrekey : undefined), oneTimePrekey: (id) => oneTime.get(id) },
		bundle: () => {
			const [prekey] = generateOneTimePrekeys(sodium, nextId++, 1);
			oneTime.set(prekey!.id, prekey!);
			return {
				deviceId: deviceId(n),
				userId,
				identityKey: identity.publicKey,
				signedPrekey: publicSignedPrekey(signedPrekey),
				oneTimePrekey: publicOneTimePrekey(prekey!)
			};
		}
	};
}

/** A message content whose encoding is exactly `bytes` bytes of UTF-8 (2-byte letters once the text would pass 4,000 characters). */
function contentOfSize(sodium: Sodium, bytes: number): MessageContent {
	const overhead = new TextEncoder().encode(encodeMessageContent(createMessageContent(sodium, { text: 'x' }))).length - 1;
	const textBytes = bytes - overhead;
	const wide = Math.max(0, textBytes - 4000);
	const filler = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. ';
	let ascii = '';
	while (ascii.length < textBytes - 2 * wide) ascii += filler;
	const text = 'é'.repeat(wide) + ascii.slice(0, textBytes - 2 * wide);
	const content = createMessageContent(sodium, { text });
	const actual = new TextEncoder().encode(encodeMessageContent(content)).length;
	if (actual !== bytes) throw new Error(`content is ${actual} bytes, wanted ${bytes}`);
	return content;
}

function row(id: string, label: string, histogram: Histogram): TimingRow {
	return { id, label, ...histogram.summary() };
}

function median(values: number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Yields to the event loop (lets a page stay responsive and the progress callback print). */
const breathe = () => new Promise((resolve) => setTimeout(resolve, 0));

export async function runE2eeScenarios(options: ScenarioOptions, progress: (line: string) => void = () => {}): Promise<ScenarioResults> {
	let start = performance.now();
	const sodium = await loadSodium();
	const sodiumLoad = performance.now() - start;
	const timings: TimingRow[] = [];
	const throughputs: ThroughputRow[] = [];
	const warmup = Math.max(50, Math.floor(options.messages / 10));

	// --- no-crypto baseline and sender keys (channels, group DMs) --------------------------------
	for (const size of options.sizes) {
		const content = contentOfSize(sodium, size);
		{
			const both = new Histogram();
			for (let i = -warmup; i < options.messages; i++) {
				const t0 = performance.now();
				const decoded = decodeMessageContent(encodeMessageContent(content));
				const t1 = performance.now();
				if (decoded.text.length === 0) throw new Error('unreachable');
				if (i >= 0) both.record(t1 - t0);
			}
			timings.push(row(`baseline.${size}`, `no crypto: JSON encode + decode, ${size} B`, both));
		}
		{
			const sender = { channelId: CHANNEL, deviceId: deviceId(1) };
			let outbound = createOutboundSenderKey(sodium, CHANNEL);
			let inbound = importSenderKey(exportSenderKey(outbound), { userId: USER_A, deviceId: sender.deviceId });
			const encrypt = new Histogram();
			const decrypt = new Histogram();
			const both = new Histogram();
			for (let i = -warmup; i < options.messages; i++) {
				// Rotation after 1,000 messages, as the engine does (its cost is the distribution scenario's).
				if (senderKeyNeedsRotation(outbound)) {
					outbound = createOutboundSenderKey(sodium, CHANNEL);
					inbound = importSenderKey(exportSenderKey(outbound), { userId: USER_A, deviceId: sender.deviceId });
				}
				const t0 = performance.now();
				const sent = encryptWithSenderKey(sodium, outbound, sender, encodeMessageContent(content));
				const t1 = performance.now();
				const payload = parseEncryptedPayload(sent.body) as SenderKeyPayload;
				const read = decryptWithSenderKey(sodium, inbound, payload, { channelId: CHANNEL, authorId: USER_A, messageId: `m${i}` });
				decodeMessageContent(read.plaintext);
				const t2 = performance.now();
				outbound = sent.key;
				inbound = read.key;
				if (i >= 0) {
					encrypt.record(t1 - t0);
					decrypt.record(t2 - t1);
					both.record(t2 - t0);
				}
			}
			timings.push(row(`sk.${size}.encrypt`, `sender key (channel), ${size} B: encrypt + sign`, encrypt));
			timings.push(row(`sk.${size}.decrypt`, `sender key (channel), ${size} B: verify + decrypt`, decrypt));
			timings.push(row(`sk.${size}.both`, `sender key (channel), ${size} B: encrypt + decrypt`, both));
		}
		progress(`sender key ${size} B done`);
		await breathe();
	}

	// --- direct messages: hearth.dm.v1 over Double Ratchet sessions --------------------------------
	for (const deviceCount of [2, 4]) {
		for (const size of options.sizes) {
			timings.push(...(await dmScenario(sodium, deviceCount, size, options.messages, warmup)));
			progress(`DM ${deviceCount} devices ${size} B done`);
			await breathe();
		}
	}

	// --- sender-key distribution to a channel of `devices` devices --------------------------------
	timings.push(...distributionScenario(sodium, options));
	progress(`distribution to ${options.devices} devices done`);
	await breathe();

	// --- attachments ----------------------------------------------------------------------------------
	throughputs.push(...(await attachmentScenario(sodium, options)));
	progress('attachments done');
	await breathe();

	// --- Argon2id MODERATE (the recovery passphrase) ----------------------------------------------
	start = performance.now();
	await loadArgon2idSodium();
	const sumoLoad = performance.now() - start;
	if (options.argon2Runs > 0) {
		const derive = new Histogram();
		const salt = sodium.randombytes_buf(16);
		for (let run = 0; run < options.argon2Runs; run++) {
			const t0 = performance.now();
			await argon2idKey('correct horse battery staple', salt, ARGON2ID_MODERATE);
			derive.record(performance.now() - t0);
			await breathe();
		}
		timings.push(row('argon2id.moderate', 'Argon2id MODERATE (3 passes, 256 MiB): one derivation', derive));
	}
	progress('argon2id done');

	return { options, libsodium: sodium.sodium_version_string(), loadMs: { sodium: sodiumLoad, sumo: sumoLoad }, timings, throughputs };
}

/**
 * A 1:1 DM conversation between users A and B with `deviceCount` devices in all (2: one each; 4:
 * two each). Turns alternate between A's first and B's first device, so every message turns the
 * DH ratchet of the pair that talks. Each message is wrapped for every device but the sender's, and
 * every recipient device decrypts it (keeping all sessions as the app would); the decrypt timed is
 * that of the other participant's first device.
 */
async function dmScenario(sodium: Sodium, deviceCount: number, size: number, messages: number, warmup: number): Promise<TimingRow[]> {
	const content = contentOfSize(sodium, size);
	const half = deviceCount / 2;
	const devices = [
		...Array.from({ length: half }, (_, i) => makeDevice(sodium, 10 + i, USER_A)),
		...Array.from({ length: half }, (_, i) => makeDevice(sodium, 20 + i, USER_B))
	];
	const speakers = [devices[0]!, devices[half]!];
	// sessions.get(`${self}|${remote}`): every session a device holds with a remote device.
	const sessions = new Map<string, PairwiseSession[]>();
	const held = (self: Device, remote: Device) => sessions.get(`${self.id}|${remote.id}`) ?? [];
	const keep = (self: Device, remote: Device, session: PairwiseSession) => {
		const others = held(self, remote).filter((s) => s.id !== session.id);
		sessions.set(`${self.id}|${remote.id}`, [...others, session]);
	};
	const encrypt = new Histogram();
	const decrypt = new Histogram();
	const both = new Histogram();
	for (let i = -warmup; i < messages; i++) {
		const sender = speakers[i & 1]!;
		const reader = speakers[(i + 1) & 1]!;
		const t0 = performance.now();
		const recipients: DmRecipient[] = devices
			.filter((d) => d !== sender)
			.map((d) => ({ deviceId: d.id, session: pickSendingSession(held(sender, d)) ?? createOutboundSession(sodium, sender.identity, d.bundle()) }));
		const sent = encryptDmMessage(sodium, { channelId: CHANNEL, senderDeviceId: sender.id, content: encodeMessageContent(content), recipients });
		const t1 = performance.now();
		const open = (device: Device) => {
			const payload = parseEncryptedPayload(sent.body) as DmPayload;
			const read = decryptDmMessage(sodium, { payload, channelId: CHANNEL, ownDeviceId: device.id, sessions: held(device, sender), local: device.local });
			decodeMessageContent(read.content);
			return read.session;
		};
		const readerSession = open(reader);
		const t2 = performance.now();
		for (const out of sent.sessions) keep(sender, devices.find((d) => d.id === out.deviceId)!, out.session);
		keep(reader, sender, readerSession);
		for (const device of devices) if (device !== sender && device !== reader) keep(device, sender, open(device));
		if (i >= 0) {
			encrypt.record(t1 - t0);
			decrypt.record(t2 - t1);
			both.record(t2 - t0);
		}
		if (i % 500 === 0) await breathe();
	}
	const name = `DM (ratchet), ${deviceCount} devices, ${size} B`;
	return [
		row(`dm${deviceCount}.${size}.encrypt`, `${name}: encrypt (wrap for ${deviceCount - 1})`, encrypt),
		row(`dm${deviceCount}.${size}.decrypt`, `${name}: decrypt on one device`, decrypt),
		row(`dm${deviceCount}.${size}.both`, `${name}: encrypt + decrypt`, both)
	];
}

/**
 * The sender's cost of sharing a new sender key with every device of a channel, as the engine does
 * it before its first send: per device, verify the claimed bundle and run X3DH (a new outbound
 * session), encrypt the `sender-key` plaintext, and build the one POST /api/to-device batch. Then a
 * rotation: a new sender key sent over the sessions that now exist. Also one recipient's cost of
 * opening the distribution (new inbound session, parse, import).
 */
function distributionScenario(sodium: Sodium, options: ScenarioOptions): TimingRow[] {
	const sender = makeDevice(sodium, 99, USER_A);
	const targets = Array.from({ length: options.devices }, (_, i) => makeDevice(sodium, 100 + i, i % 2 ? USER_A : USER_B));
	const fresh = new Histogram();
	const rotation = new Histogram();
	const receive = new Histogram();
	for (let run = -1; run < options.distributionRuns; run++) {
		// Every run starts without sessions (new bundles are claimed, as for a channel just joined).
		const bundles = targets.map((t) => t.bundle());
		let key = createOutboundSenderKey(sodium, CHANNEL);
		let t0 = performance.now();
		let plaintext = JSON.stringify(exportSenderKey(key));
		const established: PairwiseSession[] = [];
		let messages = targets.map((t, i) => {
			const out = encryptPairwise(sodium, createOutboundSession(sodium, sender.identity, bundles[i]!), plaintext);
			established.push(out.session);
			return { deviceId: t.id, body: out.body };
		});
		let request = JSON.stringify({ messages });
		if (run >= 0) fresh.record(performance.now() - t0);

		// Each recipient opens its copy (only the first run is timed per device, the rest would repeat it).
		const inbound: PairwiseSession[] = [];
		targets.forEach((t, i) => {
			const r0 = performance.now();
			const opened = createInboundSession(sodium, t.local, messages[i]!.body);
			const distribution = parseToDeviceContent(opened.plaintext) as SenderKeyDistribution;
			importSenderKey(distribution, { userId: USER_A, deviceId: sender.id });
			if (run === 0) receive.record(performance.now() - r0);
			inbound.push(opened.session);
		});

		// Rotation: a new key over the existing sessions.
		key = createOutboundSenderKey(sodium, CHANNEL);
		t0 = performance.now();
		plaintext = JSON.stringify(exportSenderKey(key));
		messages = established.map((session, i) => ({ deviceId: targets[i]!.id, body: encryptPairwise(sodium, session, plaintext).body }));
		request = JSON.stringify({ messages });
		if (run >= 0) rotation.record(performance.now() - t0);
		if (request.length === 0 || inbound.length !== targets.length) throw new Error('unreachable');
	}
	const n = options.devices;
	return [
		row(`dist${n}.new`, `sender-key distribution to ${n} devices, new sessions (bundle check, X3DH, encrypt ×${n}): whole batch`, fresh),
		row(`dist${n}.rotate`, `sender-key rotation to ${n} devices over existing sessions: whole batch`, rotation),
		row(`dist${n}.receive`, 'one recipient device: open the distribution (X3DH, decrypt, import)', receive)
	];
}

/** A stream of `bytes` bytes in 64 KiB pieces, as File.stream() delivers a file. */
function sourceStream(data: Uint8Array): ReadableStream<Uint8Array> {
	let offset = 0;
	return new ReadableStream<Uint8Array>({
		pull(controller) {
			if (offset >= data.length) return controller.close();
			controller.enqueue(data.subarray(offset, offset + 65536));
			offset += 65536;
		}
	});
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
	const parts: Uint8Array[] = [];
	const reader = stream.getReader();
	for (;;) {
		const { done, value } = await reader.read();
		if (done) return parts;
		parts.push(value);
	}
}

function chunkStream(parts: Uint8Array[]): ReadableStream<Uint8Array> {
	let index = 0;
	return new ReadableStream<Uint8Array>({
		pull(controller) {
			if (index >= parts.length) return controller.close();
			controller.enqueue(parts[index++]!);
		}
	});
}

async function attachmentScenario(sodium: Sodium, options: ScenarioOptions): Promise<ThroughputRow[]> {
	const data = new Uint8Array(options.attachmentBytes);
	// Content does not change the cipher's speed; a cheap pattern instead of 10 MB of randombytes.
	for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
	const copy: number[] = [];
	const encrypt: number[] = [];
	const decrypt: number[] = [];
	for (let run = -1; run < options.attachmentRuns; run++) {
		let t0 = performance.now();
		const copied = await drain(sourceStream(data));
		if (run >= 0) copy.push(performance.now() - t0);
		if (copied.reduce((sum, part) => sum + part.length, 0) !== data.length) throw new Error('copy lost bytes');

		t0 = performance.now();
		const encrypted = encryptFile(sodium, sourceStream(data));
		const ciphertext = await drain(encrypted.ciphertext);
		if (run >= 0) encrypt.push(performance.now() - t0);

		t0 = performance.now();
		const plaintext = await drain(decryptStream(sodium, chunkStream(ciphertext), encrypted.key, encrypted.header));
		if (run >= 0) decrypt.push(performance.now() - t0);
		if (plaintext.reduce((sum, part) => sum + part.length, 0) !== data.length) throw new Error('decryption lost bytes');
		await breathe();
	}
	const mb = options.attachmentBytes / 1e6;
	const through = (id: string, label: string, runsMs: number[]): ThroughputRow => {
		const medianMs = median(runsMs);
		return { id, label, bytes: options.attachmentBytes, runsMs, medianMs, mbPerSecond: mb / (medianMs / 1000) };
	};
	return [
		through('attachment.copy', `no crypto: read a ${mb} MB stream in 64 KiB pieces`, copy),
		through('attachment.encrypt', `attachment ${mb} MB: encrypt (secretstream, 64 KiB chunks)`, encrypt),
		through('attachment.decrypt', `attachment ${mb} MB: decrypt`, decrypt),
		through(
			'attachment.both',
			`attachment ${mb} MB: encrypt + decrypt`,
			encrypt.map((ms, i) => ms + decrypt[i]!)
		)
	];
}
