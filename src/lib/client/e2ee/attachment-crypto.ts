// Attachment encryption: libsodium's secretstream (XChaCha20-Poly1305) over 64 KiB plaintext chunks,
// streamed, so a large file is never held whole in memory on either side.
//
// Why secretstream and not one AEAD call per chunk with a counter nonce: it already authenticates
// the order of chunks (each chunk's nonce follows from the previous state), and its TAG_FINAL marks
// the real end, so a server that drops, reorders, repeats or truncates chunks is caught: decryption
// fails, it never yields a shortened file as if it were complete.
//
// The uploaded ciphertext is just the concatenation of the encrypted chunks (each exactly
// ATTACHMENT_CHUNK_BYTES + ABYTES long except the last). The key and the 24-byte stream header are
// not uploaded with it: they travel inside the encrypted message that references the attachment.
import { DecryptionError } from './errors.ts';
import type { Sodium as FullSodium } from './sodium.ts';

type Sodium = Pick<
	FullSodium,
	| 'crypto_secretstream_xchacha20poly1305_keygen'
	| 'crypto_secretstream_xchacha20poly1305_init_push'
	| 'crypto_secretstream_xchacha20poly1305_push'
	| 'crypto_secretstream_xchacha20poly1305_init_pull'
	| 'crypto_secretstream_xchacha20poly1305_pull'
	| 'crypto_secretstream_xchacha20poly1305_TAG_MESSAGE'
	| 'crypto_secretstream_xchacha20poly1305_TAG_FINAL'
	| 'crypto_secretstream_xchacha20poly1305_ABYTES'
	| 'crypto_secretstream_xchacha20poly1305_HEADERBYTES'
	| 'crypto_secretstream_xchacha20poly1305_KEYBYTES'
>;

/** Plaintext bytes per chunk: large enough that the 17-byte tag is noise, small enough to stream. */
export const ATTACHMENT_CHUNK_BYTES = 64 * 1024;
/** secretstream's per-chunk overhead (1 tag byte + 16 MAC bytes). */
const CHUNK_OVERHEAD = 17;

export type AttachmentDecryptionFailure = 'tampered' | 'truncated' | 'trailing-data' | 'bad-key';

/** Decryption refused: the ciphertext was modified, reordered, cut short or extended, or the key is wrong. */
export class AttachmentDecryptionError extends DecryptionError {
	override name = 'AttachmentDecryptionError';
	readonly reason: AttachmentDecryptionFailure;
	constructor(reason: AttachmentDecryptionFailure) {
		super(
			{
				tampered: 'The attachment was modified or does not belong to this key.',
				truncated: 'The attachment ends before its last chunk.',
				'trailing-data': 'The attachment has data after its last chunk.',
				'bad-key': 'The attachment key or header has the wrong length.'
			}[reason]
		);
		this.reason = reason;
	}
}

export type EncryptedAttachment = {
	/** The ciphertext to upload, produced as it is read. */
	ciphertext: ReadableStream<Uint8Array>;
	/** 32-byte secretstream key; goes into the encrypted message, never to the server in the clear. */
	key: Uint8Array;
	/** 24-byte secretstream header; goes into the encrypted message next to the key. */
	header: Uint8Array;
	/** Resolves once the ciphertext stream has been read to its end. */
	sizes: Promise<{ plaintextBytes: number; ciphertextBytes: number }>;
};

/** Ciphertext length for a plaintext length (even an empty file is one final chunk of 17 bytes). */
export function encryptedSize(plaintextBytes: number, chunkBytes: number = ATTACHMENT_CHUNK_BYTES): number {
	const chunks = Math.max(1, Math.ceil(plaintextBytes / chunkBytes));
	return plaintextBytes + chunks * CHUNK_OVERHEAD;
}

/**
 * Encrypts a plaintext stream (e.g. `File.stream()`) with a fresh key. Chunks are re-cut to
 * exactly `chunkBytes` whatever sizes the source delivers; the last chunk (possibly empty when the
 * file is empty) carries TAG_FINAL.
 */
export function encryptFile(
	sodium: Sodium,
	plaintext: ReadableStream<Uint8Array>,
	chunkBytes: number = ATTACHMENT_CHUNK_BYTES
): EncryptedAttachment {
	const key = sodium.crypto_secretstream_xchacha20poly1305_keygen();
	const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(key);
	const reader = plaintext.getReader();
	const pending = new ByteQueue();
	let plaintextBytes = 0;
	let ciphertextBytes = 0;
	let finished = false;
	let resolveSizes!: (sizes: { plaintextBytes: number; ciphertextBytes: number }) => void;
	let rejectSizes!: (error: unknown) => void;
	const sizes = new Promise<{ plaintextBytes: number; ciphertextBytes: number }>((resolve, reject) => {
		resolveSizes = resolve;
		rejectSizes = reject;
	});
	// Unobserved failures are reported through the stream itself; keep the promise from being "unhandled".
	sizes.catch(() => {});

	const push = (chunk: Uint8Array, final: boolean) => {
		const tag = final
			? sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
			: sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
		const out = sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, null, tag);
		ciphertextBytes += out.length;
		return out;
	};

	const ciphertext = new ReadableStream<Uint8Array>({
		async pull(controller) {
			try {
				// A full chunk is only known not to be the last once more data (or the end) arrives,
				// so keep reading until we hold more than one chunk or the source is done.
				while (!finished && pending.length <= chunkBytes) {
					const { done, value } = await reader.read();
					if (done) finished = true;
					else if (value.length > 0) {
						pending.push(value);
						plaintextBytes += value.length;
					}
				}
				if (pending.length > chunkBytes) {
					controller.enqueue(push(pending.take(chunkBytes), false));
					return;
				}
				controller.enqueue(push(pending.take(pending.length), true));
				controller.close();
				resolveSizes({ plaintextBytes, ciphertextBytes });
			} catch (error) {
				rejectSizes(error);
				controller.error(error);
			}
		},
		async cancel(reason) {
			rejectSizes(reason ?? new Error('Encryption cancelled.'));
			await reader.cancel(reason);
		}
	});
	return { ciphertext, key, header, sizes };
}

/**
 * Decrypts an attachment ciphertext stream. The output stream errors with an
 * AttachmentDecryptionError on any tampering, reordering, truncation or extension; a consumer must
 * treat everything it read as untrusted until the stream closes normally.
 */
export function decryptStream(
	sodium: Sodium,
	ciphertext: ReadableStream<Uint8Array>,
	key: Uint8Array,
	header: Uint8Array,
	chunkBytes: number = ATTACHMENT_CHUNK_BYTES
): ReadableStream<Uint8Array> {
	if (
		key.length !== sodium.crypto_secretstream_xchacha20poly1305_KEYBYTES ||
		header.length !== sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
	) {
		throw new AttachmentDecryptionError('bad-key');
	}
	const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(header, key);
	const blockBytes = chunkBytes + CHUNK_OVERHEAD;
	const reader = ciphertext.getReader();
	const pending = new ByteQueue();
	let finished = false;
	let sawFinal = false;

	const pull = (block: Uint8Array) => {
		// libsodium-wrappers throws on a forged chunk in some versions and returns false in others.
		let result: { message: Uint8Array; tag: number } | false;
		try {
			result = sodium.crypto_secretstream_xchacha20poly1305_pull(state, block, null);
		} catch {
			throw new AttachmentDecryptionError('tampered');
		}
		if (!result) throw new AttachmentDecryptionError('tampered');
		return result;
	};

	return new ReadableStream<Uint8Array>({
		async pull(controller) {
			try {
				while (!finished && pending.length <= blockBytes) {
					const { done, value } = await reader.read();
					if (done) finished = true;
					else if (value.length > 0) pending.push(value);
				}
				if (sawFinal) throw new AttachmentDecryptionError('trailing-data');
				if (pending.length === 0) throw new AttachmentDecryptionError('truncated');
				const isLastBlock = pending.length <= blockBytes;
				const { message, tag } = pull(pending.take(Math.min(blockBytes, pending.length)));
				const final = tag === sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
				if (final && !isLastBlock) throw new AttachmentDecryptionError('trailing-data');
				if (!final && isLastBlock) throw new AttachmentDecryptionError('truncated');
				if (message.length > 0) controller.enqueue(message);
				if (final) {
					sawFinal = true;
					controller.close();
				}
			} catch (error) {
				controller.error(error);
				await reader.cancel(error).catch(() => {});
			}
		},
		async cancel(reason) {
			await reader.cancel(reason);
		}
	});
}

/** Bytes received in arbitrary pieces, taken out in exact lengths without copying more than needed. */
class ByteQueue {
	#parts: Uint8Array[] = [];
	#length = 0;

	get length(): number {
		return this.#length;
	}

	push(part: Uint8Array): void {
		this.#parts.push(part);
		this.#length += part.length;
	}

	take(count: number): Uint8Array {
		const out = new Uint8Array(count);
		let filled = 0;
		while (filled < count) {
			const head = this.#parts[0]!;
			const needed = count - filled;
			if (head.length <= needed) {
				out.set(head, filled);
				filled += head.length;
				this.#parts.shift();
			} else {
				out.set(head.subarray(0, needed), filled);
				this.#parts[0] = head.subarray(needed);
				filled += needed;
			}
		}
		this.#length -= count;
		return out;
	}
}
