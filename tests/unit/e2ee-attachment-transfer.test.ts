// The attachment upload path on the client: the limit refusal before any byte is read, the words
// for the server's 413, encryption into the uploaded ciphertext, cancel, and the way back
// (download + decrypt) to the same bytes. The uploader is a function here; the real server is
// exercised in tests/integration/attachment-upload.test.ts and in the browser in tests/e2e/attachments.spec.ts.
import { randomBytes } from 'node:crypto';
import sodium from 'libsodium-wrappers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '#lib/client/api.ts';
import { ATTACHMENT_CHUNK_BYTES, AttachmentDecryptionError, encryptedSize } from '#lib/client/e2ee/attachment-crypto.ts';
import {
	attachmentName,
	attachmentSizeProblem,
	attachmentsOf,
	downloadAndDecrypt,
	encryptAndUpload,
	isInlineImage,
	largestAttachmentBytes,
	UploadCancelledError,
	uploadErrorMessage,
	type AttachmentSource,
	type CiphertextUploader
} from '#lib/client/e2ee/attachment-transfer.ts';

beforeAll(async () => {
	await sodium.ready;
});

const CHANNEL = '6a1f3c1e-9a43-4c55-9f0e-2b1d57c1a001';
const ATTACHMENT_ID = '0b8d4d2e-3f0a-4f61-8b5c-7a35c4c7d002';

function source(bytes: Uint8Array, name = 'report.pdf', type = 'application/pdf'): AttachmentSource {
	return { name, type, size: bytes.length, stream: () => new Blob([bytes as Uint8Array<ArrayBuffer>]).stream() };
}

/** An uploader keeping what it was sent, as the server would. */
function memoryUploader() {
	const stored = new Map<string, Uint8Array>();
	const calls: number[] = [];
	const upload: CiphertextUploader = async (_channelId, ciphertext, options) => {
		calls.push(ciphertext.size);
		options.onProgress?.(ciphertext.size, ciphertext.size);
		stored.set(ATTACHMENT_ID, new Uint8Array(await ciphertext.arrayBuffer()));
		return { id: ATTACHMENT_ID };
	};
	const download = async (id: string) => new Blob([stored.get(id)! as Uint8Array<ArrayBuffer>]).stream();
	return { upload, download, stored, calls };
}

describe('the size limit, checked before upload', () => {
	it('accepts a file whose ciphertext is exactly the limit and refuses one byte more', () => {
		const limit = encryptedSize(100_000);
		expect(attachmentSizeProblem({ name: 'a.bin', size: 100_000 }, limit)).toBeNull();
		expect(attachmentSizeProblem({ name: 'a.bin', size: 100_001 }, limit)).toBe('“a.bin” is too large to send (100001 bytes). Files on this server can be at most 100000 bytes.');
		expect(attachmentSizeProblem({ name: 'b.bin', size: 3 * 1024 * 1024 }, 1024 * 1024)).toBe('“b.bin” is too large to send (3.0 MB). Files on this server can be at most 1024 KB.');
	});

	it('knows no limit until the server said one (the server still enforces it)', () => {
		expect(attachmentSizeProblem({ name: 'a.bin', size: 10 ** 9 }, undefined)).toBeNull();
	});

	it('names the largest plaintext that fits, for any limit', () => {
		for (const limit of [17, 18, 1000, ATTACHMENT_CHUNK_BYTES, ATTACHMENT_CHUNK_BYTES + 17, ATTACHMENT_CHUNK_BYTES + 18, 25 * 1024 * 1024, 3 * (ATTACHMENT_CHUNK_BYTES + 17) + 5]) {
			const largest = largestAttachmentBytes(limit);
			expect(encryptedSize(largest), `limit ${limit}`).toBeLessThanOrEqual(limit);
			expect(encryptedSize(largest + 1), `limit ${limit}`).toBeGreaterThan(limit);
		}
	});

	it('refuses an over-limit file without reading it or calling the server', async () => {
		const { upload, calls } = memoryUploader();
		const file: AttachmentSource = {
			name: 'big.iso',
			type: '',
			size: 50_000,
			stream: () => {
				throw new Error('read');
			}
		};
		const refusal = encryptAndUpload(sodium, file, { channelId: CHANNEL, upload, maxBytes: 40_000 });
		await expect(refusal).rejects.toBeInstanceOf(ApiError);
		await expect(refusal).rejects.toMatchObject({ status: 413, message: expect.stringContaining('“big.iso” is too large to send') });
		expect(calls).toEqual([]);
	});
});

describe('the server refusing an upload', () => {
	it('turns a 413 into plain words with the server’s limit', () => {
		const error = new ApiError(413, 'payload_too_large', 'Attachments can be at most 16384 bytes (encrypted) on this server.');
		expect(uploadErrorMessage(error, 'medium.bin')).toBe('“medium.bin” is too large for this server. Attachments can be at most 16384 bytes (encrypted) on this server.');
	});

	it('says what else went wrong without inventing a cause', () => {
		expect(uploadErrorMessage(new ApiError(403, 'forbidden', 'Your role cannot post in this channel.'), 'x.txt')).toBe('“x.txt” could not be uploaded: Your role cannot post in this channel.');
		expect(uploadErrorMessage(new TypeError('boom'), 'x.txt')).toBe('“x.txt” could not be uploaded. Check your connection and try again.');
	});

	it('passes the uploader’s refusal through', async () => {
		const upload: CiphertextUploader = async () => {
			throw new ApiError(413, 'payload_too_large', 'too big');
		};
		await expect(encryptAndUpload(sodium, source(new Uint8Array(10)), { channelId: CHANNEL, upload })).rejects.toMatchObject({ status: 413 });
	});
});

describe('encrypting and uploading', () => {
	it('uploads only ciphertext and returns the reference that decrypts it back to the same bytes', async () => {
		const plaintext = new Uint8Array(randomBytes(3 * ATTACHMENT_CHUNK_BYTES + 123));
		plaintext.set(new TextEncoder().encode('canary-in-the-file'), 1000);
		const { upload, download, stored } = memoryUploader();
		const phases: string[] = [];
		const ref = await encryptAndUpload(sodium, source(plaintext, 'plan.pdf'), {
			channelId: CHANNEL,
			upload,
			maxBytes: encryptedSize(plaintext.length),
			onProgress: (p) => phases.push(p.phase)
		});
		expect(ref).toMatchObject({ id: ATTACHMENT_ID, name: 'plan.pdf', type: 'application/pdf', size: plaintext.length, chunk: ATTACHMENT_CHUNK_BYTES });
		expect(phases[0]).toBe('encrypting');
		expect(phases.at(-1)).toBe('uploading');
		const uploaded = stored.get(ATTACHMENT_ID)!;
		expect(uploaded.length).toBe(encryptedSize(plaintext.length));
		expect(Buffer.from(uploaded).includes(Buffer.from('canary-in-the-file'))).toBe(false);

		const back = await downloadAndDecrypt(sodium, ref, download);
		expect(back.type).toBe('application/pdf');
		expect(new Uint8Array(await back.arrayBuffer())).toEqual(plaintext);
	});

	it('refuses to yield a file whose ciphertext was altered on the server', async () => {
		const { upload, download, stored } = memoryUploader();
		const ref = await encryptAndUpload(sodium, source(new Uint8Array(5000).fill(9)), { channelId: CHANNEL, upload });
		stored.get(ATTACHMENT_ID)![100]! ^= 1;
		await expect(downloadAndDecrypt(sodium, ref, download)).rejects.toBeInstanceOf(AttachmentDecryptionError);
	});

	it('stops when cancelled: nothing is uploaded', async () => {
		const { upload, calls } = memoryUploader();
		const controller = new AbortController();
		let pulls = 0;
		const file: AttachmentSource = {
			name: 'slow.bin',
			type: '',
			size: 10 * ATTACHMENT_CHUNK_BYTES,
			stream: () =>
				new ReadableStream<Uint8Array>({
					pull(c) {
						pulls += 1;
						if (pulls === 2) controller.abort();
						c.enqueue(new Uint8Array(ATTACHMENT_CHUNK_BYTES));
						if (pulls === 10) c.close();
					}
				})
		};
		await expect(encryptAndUpload(sodium, file, { channelId: CHANNEL, upload, signal: controller.signal })).rejects.toBeInstanceOf(UploadCancelledError);
		expect(calls).toEqual([]);
		expect(pulls).toBeLessThan(10);
	});
});

describe('references in decrypted content', () => {
	it('keeps valid references and drops malformed ones', () => {
		const valid = { id: ATTACHMENT_ID, name: 'a.png', type: 'image/png', size: 3, key: 'A'.repeat(43), header: 'B'.repeat(32), chunk: ATTACHMENT_CHUNK_BYTES };
		expect(attachmentsOf({ attachments: [valid, { ...valid, key: 'short' }, 'x'] })).toEqual([valid]);
		expect(attachmentsOf({ text: 'no files' })).toEqual([]);
		expect(attachmentsOf(null)).toEqual([]);
	});

	it('shows raster images inline, never SVG or other types', () => {
		expect(isInlineImage({ type: 'image/png', size: 10 })).toBe(true);
		expect(isInlineImage({ type: 'image/svg+xml', size: 10 })).toBe(false);
		expect(isInlineImage({ type: 'text/html', size: 10 })).toBe(false);
		expect(isInlineImage({ type: 'image/jpeg', size: 50 * 1024 * 1024 })).toBe(false);
	});

	it('keeps file names within the reference’s rules', () => {
		expect(attachmentName('a\u0000b\nc.txt')).toBe('abc.txt');
		expect(attachmentName('   ')).toBe('file');
		const long = attachmentName(`${'x'.repeat(400)}.tar.gz`);
		expect(long.length).toBe(255);
		expect(long.endsWith('.gz')).toBe(true);
	});
});
