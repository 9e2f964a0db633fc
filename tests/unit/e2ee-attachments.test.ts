import { randomBytes } from 'node:crypto';
import sodium from 'libsodium-wrappers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
	ATTACHMENT_CHUNK_BYTES,
	AttachmentDecryptionError,
	decryptStream,
	encryptFile,
	encryptedSize
} from '#lib/client/e2ee/attachment-crypto.ts';

beforeAll(async () => {
	await sodium.ready;
});

const KiB = 1024;
const BLOCK = ATTACHMENT_CHUNK_BYTES + 17;

/** A web stream delivering `bytes` in pieces of `pieceBytes` (sources rarely match our chunk size). */
function streamOf(bytes: Uint8Array, pieceBytes = 10_000): ReadableStream<Uint8Array> {
	let offset = 0;
	return new ReadableStream({
		pull(controller) {
			if (offset >= bytes.length) return controller.close();
			controller.enqueue(bytes.slice(offset, offset + pieceBytes));
			offset += pieceBytes;
		}
	});
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
	const parts: Uint8Array[] = [];
	for await (const part of stream) parts.push(part);
	return Buffer.concat(parts);
}

async function encrypt(plaintext: Uint8Array) {
	const encrypted = encryptFile(sodium, streamOf(plaintext));
	const ciphertext = await readAll(encrypted.ciphertext);
	return { ...encrypted, ciphertext, sizes: await encrypted.sizes };
}

async function decryptionError(ciphertext: Uint8Array, key: Uint8Array, header: Uint8Array): Promise<AttachmentDecryptionError> {
	try {
		await readAll(decryptStream(sodium, streamOf(ciphertext, 7_000), key, header));
	} catch (error) {
		expect(error).toBeInstanceOf(AttachmentDecryptionError);
		return error as AttachmentDecryptionError;
	}
	throw new Error('decryption unexpectedly succeeded');
}

describe('encryptFile then decryptStream', () => {
	const sizes: Array<[string, number]> = [
		['0 bytes', 0],
		['1 byte', 1],
		['exactly 64 KiB', 64 * KiB],
		['64 KiB + 1', 64 * KiB + 1],
		['5 MiB', 5 * 1024 * KiB]
	];
	for (const [name, size] of sizes) {
		it(`round-trips ${name} of random data`, async () => {
			const plaintext = new Uint8Array(randomBytes(size));
			const { ciphertext, key, header, sizes } = await encrypt(plaintext);
			expect(key).toHaveLength(32);
			expect(header).toHaveLength(24);
			expect(ciphertext.length).toBe(encryptedSize(size));
			expect(sizes).toEqual({ plaintextBytes: size, ciphertextBytes: ciphertext.length });
			const decrypted = await readAll(decryptStream(sodium, streamOf(ciphertext, 3_333), key, header));
			expect(Buffer.from(decrypted).equals(Buffer.from(plaintext))).toBe(true);
		});
	}

	it('cuts ciphertext into 64 KiB plaintext chunks: 64 KiB is one chunk, 64 KiB + 1 is two', () => {
		expect(encryptedSize(0)).toBe(17);
		expect(encryptedSize(64 * KiB)).toBe(64 * KiB + 17);
		expect(encryptedSize(64 * KiB + 1)).toBe(64 * KiB + 1 + 2 * 17);
	});

	it('uses a fresh key per file', async () => {
		const plaintext = new Uint8Array(randomBytes(100));
		const [a, b] = [await encrypt(plaintext), await encrypt(plaintext)];
		expect(Buffer.from(a.key).equals(Buffer.from(b.key))).toBe(false);
		expect(Buffer.from(a.ciphertext).equals(Buffer.from(b.ciphertext))).toBe(false);
	});
});

describe('decryptStream refuses modified ciphertext', () => {
	const threeChunks = () => new Uint8Array(randomBytes(2 * ATTACHMENT_CHUNK_BYTES + 500));

	it('rejects a truncated file whose final chunk is missing', async () => {
		const { ciphertext, key, header } = await encrypt(threeChunks());
		expect((await decryptionError(ciphertext.subarray(0, 2 * BLOCK), key, header)).reason).toBe('truncated');
	});

	it('rejects a file cut in the middle of a chunk', async () => {
		const { ciphertext, key, header } = await encrypt(threeChunks());
		expect((await decryptionError(ciphertext.subarray(0, BLOCK + 100), key, header)).reason).toBe('tampered');
	});

	it('rejects an empty ciphertext', async () => {
		const { key, header } = await encrypt(new Uint8Array(0));
		expect((await decryptionError(new Uint8Array(0), key, header)).reason).toBe('truncated');
	});

	it('rejects reordered chunks', async () => {
		const { ciphertext, key, header } = await encrypt(threeChunks());
		const swapped = Buffer.concat([ciphertext.subarray(BLOCK, 2 * BLOCK), ciphertext.subarray(0, BLOCK), ciphertext.subarray(2 * BLOCK)]);
		expect((await decryptionError(swapped, key, header)).reason).toBe('tampered');
	});

	it('rejects a repeated chunk', async () => {
		const { ciphertext, key, header } = await encrypt(threeChunks());
		const repeated = Buffer.concat([ciphertext.subarray(0, BLOCK), ciphertext]);
		expect((await decryptionError(repeated, key, header)).reason).toBe('tampered');
	});

	it('rejects a flipped bit anywhere: first chunk, last chunk, final tag byte', async () => {
		const { ciphertext, key, header } = await encrypt(threeChunks());
		for (const position of [0, 5_000, BLOCK + 17, ciphertext.length - 1]) {
			const flipped = new Uint8Array(ciphertext);
			flipped[position]! ^= 0x01;
			expect((await decryptionError(flipped, key, header)).reason).toBe('tampered');
		}
	});

	it('rejects data appended after the final chunk', async () => {
		// A full-size final chunk decrypts fine on its own, so only the trailing-data check catches this.
		const whole = await encrypt(new Uint8Array(randomBytes(ATTACHMENT_CHUNK_BYTES)));
		const extended = Buffer.concat([whole.ciphertext, new Uint8Array(randomBytes(5))]);
		expect((await decryptionError(extended, whole.key, whole.header)).reason).toBe('trailing-data');
		// A short final chunk followed by more bytes no longer authenticates at all.
		const short = await encrypt(new Uint8Array(randomBytes(1000)));
		const appended = Buffer.concat([short.ciphertext, new Uint8Array(randomBytes(BLOCK + 5))]);
		expect((await decryptionError(appended, short.key, short.header)).reason).toBe('tampered');
	});

	it("rejects a ciphertext decrypted with another file's header or key", async () => {
		const plaintext = new Uint8Array(randomBytes(1000));
		const a = await encrypt(plaintext);
		const b = await encrypt(plaintext);
		expect((await decryptionError(a.ciphertext, a.key, b.header)).reason).toBe('tampered');
		expect((await decryptionError(a.ciphertext, b.key, a.header)).reason).toBe('tampered');
	});

	it('refuses a key or header of the wrong length before reading', () => {
		expect(() => decryptStream(sodium, streamOf(new Uint8Array(20)), new Uint8Array(31), new Uint8Array(24))).toThrow(
			AttachmentDecryptionError
		);
	});
});
