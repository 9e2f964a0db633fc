// Reading request bodies with a bound, counted while they stream in (JSON bodies, the instance
// icon, encrypted attachments): a body without Content-Length is never buffered beyond the bound.

// Past the limit, a body is still read (and discarded) for up to this much more before the
// connection is cut: a slightly oversized body then gets a readable 413 (cutting the connection
// with unread bytes makes the kernel reset it, and the client may never see the answer), while a
// huge one costs at most this much more reading.
import { invalid } from './errors.ts';

const OVERSIZE_DRAIN_BYTES = 1024 * 1024;

/**
 * A body stream read to the end, counted as it arrives: never more than `maxBytes` is buffered.
 * Past the limit `tooLarge()` is thrown, once the rest is drained or OVERSIZE_DRAIN_BYTES more
 * were discarded (then the read is cancelled, which closes the connection).
 */
export async function readStreamCapped(body: ReadableStream<Uint8Array> | null, maxBytes: number, tooLarge: () => Error): Promise<Uint8Array> {
	if (!body) return new Uint8Array(0);
	const chunks: Uint8Array[] = [];
	let size = 0;
	const reader = body.getReader();
	for (;;) {
		let chunk: ReadableStreamReadResult<Uint8Array>;
		try {
			chunk = await reader.read();
		} catch (error) {
			// The adapter refuses a declared Content-Length over BODY_SIZE_LIMIT by failing the stream.
			if ((error as { status?: number }).status === 413) throw tooLarge();
			throw invalid('The request body was cut off before its end.');
		}
		const { done, value } = chunk;
		if (done) break;
		size += value.byteLength;
		if (size > maxBytes + OVERSIZE_DRAIN_BYTES) {
			await reader.cancel().catch(() => {});
			throw tooLarge();
		}
		if (size <= maxBytes) chunks.push(value);
	}
	if (size > maxBytes) throw tooLarge();
	return Buffer.concat(chunks, size);
}
