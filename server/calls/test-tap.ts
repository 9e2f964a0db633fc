// Tests only (APP_ENV=test with CALL_TEST_TAP_PORT): every producer also gets a consumer on a plain
// RTP transport that sends to 127.0.0.1:CALL_TEST_TAP_PORT, without SRTP. It shows a test exactly
// what the SFU itself holds after it decrypted SRTP: with end-to-end encrypted calls, frames it
// cannot decode. The configuration refuses the port outside APP_ENV=test.
import type { types } from 'mediasoup';
import { safeError, type Logger } from '#lib/server/logger.ts';

/** What a test needs to tell the copies apart: one log line per tapped stream. */
export type TapDescription = { producerId: string; peerId: string; userId: string; kind: 'audio' | 'video'; mimeType: string; ssrc: number; payloadType: number };

export async function tapProducer(router: types.Router, producer: types.Producer, owner: { peerId: string; userId: string }, port: number, log: Logger): Promise<void> {
	try {
		const transport = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
		producer.observer.once('close', () => transport.close());
		await transport.connect({ ip: '127.0.0.1', port });
		const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
		const codec = consumer.rtpParameters.codecs[0]!;
		const tap: TapDescription = {
			producerId: producer.id,
			peerId: owner.peerId,
			userId: owner.userId,
			kind: producer.kind,
			mimeType: codec.mimeType,
			ssrc: consumer.rtpParameters.encodings![0]!.ssrc!,
			payloadType: codec.payloadType
		};
		log.info({ tap }, 'call test tap');
	} catch (error) {
		log.warn({ err: safeError(error) }, 'call test tap failed');
	}
}
