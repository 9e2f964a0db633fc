// Moving encrypted attachments between the browser and the server: a file is encrypted while it is
// read (attachment-crypto.ts, from `File.stream()`), its ciphertext uploaded with progress and
// cancel, and the reference that lets readers decrypt it (id, key, header, name, type, size) is
// returned to go *inside* the encrypted message. The server only ever sees ciphertext and its length.
//
// Why the ciphertext is collected into a Blob before the upload instead of streamed as the body:
// Chromium streams request bodies only over HTTP/2 (self-hosters often run HTTP/1.1 to the app),
// and fetch reports no upload progress at all. XMLHttpRequest with a Blob body does both progress
// and abort everywhere. A Blob of encrypted chunks may be kept on disk by the browser; the limit
// (checked before any byte is read) bounds it anyway.
//
// Nothing here logs: file names, contents, keys and ciphertext stay out of the console.
import { ApiError } from '#lib/client/api.ts';
import * as v from 'valibot';
import { ATTACHMENT_CHUNK_BYTES, decryptStream, encryptFile, encryptedSize } from './attachment-crypto.ts';
import { fromB64Exact, toB64 } from './encoding.ts';
import { AttachmentRef, MESSAGE_ATTACHMENTS_MAX } from './message-content.ts';
import type { Sodium } from './sodium.ts';

export { MESSAGE_ATTACHMENTS_MAX };

/** What the uploader reports: bytes done of the total, in one of the two phases. */
export type TransferProgress = { phase: 'encrypting' | 'uploading'; done: number; total: number };

/** The part of a File the upload needs (a File is one; tests pass Blobs with a name). */
export type AttachmentSource = { name: string; type: string; size: number; stream(): ReadableStream<Uint8Array> };

/** Sends ciphertext to POST /api/channels/:id/attachments; resolves to the stored attachment's id. */
export type CiphertextUploader = (
	channelId: string,
	ciphertext: Blob,
	options: { signal?: AbortSignal; onProgress?: (sent: number, total: number) => void }
) => Promise<{ id: string }>;

/** The upload was cancelled by the user (not an error to show). */
export class UploadCancelledError extends Error {
	override name = 'UploadCancelledError';
	constructor() {
		super('The upload was cancelled.');
	}
}

/** secretstream's per-chunk overhead (1 tag byte + 16 MAC bytes), as in attachment-crypto.ts. */
const CHUNK_TAG_BYTES = 17;

/** Longest file name kept in the reference (AttachmentRef allows 255; longer names are shortened, keeping the extension). */
const NAME_MAX_CHARS = 255;

export function formatBytes(bytes: number): string {
	if (bytes < 1024) return `${bytes} B`;
	const units = ['KB', 'MB', 'GB'];
	let value = bytes / 1024;
	let unit = 0;
	while (value >= 1024 && unit < units.length - 1) {
		value /= 1024;
		unit += 1;
	}
	return `${value >= 10 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** The largest plaintext file whose ciphertext fits in `maxBytes` (each chunk adds a 17-byte tag). */
export function largestAttachmentBytes(maxBytes: number): number {
	const block = ATTACHMENT_CHUNK_BYTES + CHUNK_TAG_BYTES;
	const fullChunks = Math.floor(maxBytes / block);
	const rest = maxBytes - fullChunks * block;
	// A partial last chunk needs its own tag; with no room for one, the file ends on a full chunk.
	return fullChunks * ATTACHMENT_CHUNK_BYTES + Math.max(0, rest - CHUNK_TAG_BYTES);
}

/**
 * Why this file cannot be sent on this server, or null. The server's limit counts encrypted bytes,
 * so the file's encrypted size (known exactly in advance) is what is compared.
 */
export function attachmentSizeProblem(file: { name: string; size: number }, maxBytes: number | undefined): string | null {
	if (maxBytes === undefined) return null;
	if (encryptedSize(file.size) <= maxBytes) return null;
	const largest = largestAttachmentBytes(maxBytes);
	// Rounded sizes that read the same would make the refusal look absurd: then say the bytes.
	const [size, most] = formatBytes(file.size) === formatBytes(largest) ? [`${file.size} bytes`, `${largest} bytes`] : [formatBytes(file.size), formatBytes(largest)];
	return `“${file.name}” is too large to send (${size}). Files on this server can be at most ${most}.`;
}

/** The message to show for an upload refusal; the server's 413 gets its own plain wording. */
export function uploadErrorMessage(error: unknown, fileName: string): string {
	if (error instanceof ApiError && error.status === 413) {
		return `“${fileName}” is too large for this server. ${error.message}`;
	}
	if (error instanceof ApiError) return `“${fileName}” could not be uploaded: ${error.message}`;
	return `“${fileName}” could not be uploaded. Check your connection and try again.`;
}

/** A name safe for the reference: no control characters, at most 255 characters, never empty. */
export function attachmentName(name: string): string {
	const clean = name.replace(/[\u0000-\u001f\u007f]/g, '').trim() || 'file';
	if (clean.length <= NAME_MAX_CHARS) return clean;
	const dot = clean.lastIndexOf('.');
	const extension = dot > 0 && clean.length - dot <= 16 ? clean.slice(dot) : '';
	return clean.slice(0, NAME_MAX_CHARS - extension.length) + extension;
}

/**
 * Encrypts a file while reading it, then uploads the ciphertext. Resolves to the reference to put
 * in the message. Throws UploadCancelledError when `signal` aborts, ApiError on a refusal.
 */
export async function encryptAndUpload(
	sodium: Sodium,
	file: AttachmentSource,
	options: {
		channelId: string;
		upload: CiphertextUploader;
		maxBytes?: number;
		signal?: AbortSignal;
		onProgress?: (progress: TransferProgress) => void;
	}
): Promise<AttachmentRef> {
	const problem = attachmentSizeProblem(file, options.maxBytes);
	if (problem) throw new ApiError(413, 'payload_too_large', problem);
	const { signal, onProgress } = options;
	if (signal?.aborted) throw new UploadCancelledError();
	const total = encryptedSize(file.size);
	const encrypted = encryptFile(sodium, file.stream());
	const reader = encrypted.ciphertext.getReader();
	const parts: Uint8Array<ArrayBuffer>[] = [];
	let done = 0;
	const onAbort = () => void reader.cancel(new UploadCancelledError()).catch(() => {});
	signal?.addEventListener('abort', onAbort, { once: true });
	try {
		onProgress?.({ phase: 'encrypting', done: 0, total });
		for (;;) {
			const next = await reader.read();
			if (signal?.aborted) throw new UploadCancelledError();
			if (next.done) break;
			parts.push(next.value as Uint8Array<ArrayBuffer>);
			done += next.value.length;
			onProgress?.({ phase: 'encrypting', done, total });
		}
	} catch (error) {
		if (signal?.aborted) throw new UploadCancelledError();
		throw error;
	} finally {
		signal?.removeEventListener('abort', onAbort);
	}
	const sizes = await encrypted.sizes;
	const ciphertext = new Blob(parts, { type: 'application/octet-stream' });
	parts.length = 0;
	onProgress?.({ phase: 'uploading', done: 0, total: ciphertext.size });
	const { id } = await options.upload(options.channelId, ciphertext, {
		signal,
		onProgress: (sent, all) => onProgress?.({ phase: 'uploading', done: sent, total: all })
	});
	return v.parse(AttachmentRef, {
		id,
		name: attachmentName(file.name),
		type: file.type.slice(0, 255).replace(/[\u0000-\u001f\u007f]/g, ''),
		size: sizes.plaintextBytes,
		key: toB64(encrypted.key),
		header: toB64(encrypted.header),
		chunk: ATTACHMENT_CHUNK_BYTES
	});
}

/**
 * Downloads and decrypts an attachment into a Blob of its type. Decryption runs while the
 * ciphertext arrives; the Blob exists only once the whole file checked out (a truncated or altered
 * file throws an AttachmentDecryptionError, never yields a partial file).
 */
export async function downloadAndDecrypt(
	sodium: Sodium,
	ref: AttachmentRef,
	download: (attachmentId: string) => Promise<ReadableStream<Uint8Array>>
): Promise<Blob> {
	const key = fromB64Exact(ref.key, 32, 'attachment key');
	const header = fromB64Exact(ref.header, 24, 'attachment header');
	const plaintext = decryptStream(sodium, await download(ref.id), key, header, ref.chunk);
	const parts: Uint8Array<ArrayBuffer>[] = [];
	const reader = plaintext.getReader();
	for (;;) {
		const next = await reader.read();
		if (next.done) break;
		parts.push(next.value as Uint8Array<ArrayBuffer>);
	}
	return new Blob(parts, { type: ref.type || 'application/octet-stream' });
}

/** The attachments a decrypted content carries, validated (anything malformed is left out). */
export function attachmentsOf(content: unknown): AttachmentRef[] {
	const list = (content as { attachments?: unknown } | null)?.attachments;
	if (!Array.isArray(list)) return [];
	return list.slice(0, MESSAGE_ATTACHMENTS_MAX).flatMap((item) => {
		const parsed = v.safeParse(AttachmentRef, item);
		return parsed.success ? [parsed.output] : [];
	});
}

/** Raster image types shown inline (decoded by the browser's image decoder, never as a document). */
const INLINE_IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp']);
/** Larger images are offered as a download card instead of being decrypted on sight. */
export const INLINE_IMAGE_MAX_BYTES = 20 * 1024 * 1024;

export function isInlineImage(ref: Pick<AttachmentRef, 'type' | 'size'>): boolean {
	return INLINE_IMAGE_TYPES.has(ref.type.toLowerCase()) && ref.size <= INLINE_IMAGE_MAX_BYTES;
}

/**
 * The browser's uploader: XMLHttpRequest (upload progress and abort), with the session cookie and
 * the CSRF token like every state-changing request. `csrfToken(true)` must fetch a fresh token (the
 * server refused the old one, e.g. after signing in again).
 */
export function xhrUploader(csrfToken: (fresh?: boolean) => Promise<string>, baseUrl = ''): CiphertextUploader {
	const attempt = (channelId: string, ciphertext: Blob, token: string, options: Parameters<CiphertextUploader>[2]) =>
		new Promise<{ status: number; body: unknown }>((resolve, reject) => {
			const xhr = new XMLHttpRequest();
			xhr.open('POST', `${baseUrl}/api/channels/${encodeURIComponent(channelId)}/attachments`);
			xhr.setRequestHeader('content-type', 'application/octet-stream');
			xhr.setRequestHeader('accept', 'application/json');
			xhr.setRequestHeader('x-csrf-token', token);
			xhr.responseType = 'json';
			xhr.upload.onprogress = (event) => options.onProgress?.(event.loaded, event.lengthComputable ? event.total : ciphertext.size);
			xhr.onload = () => resolve({ status: xhr.status, body: xhr.response });
			// The server answers an oversized body with 413 and closes the connection; some browsers
			// see only the closed connection. Readers get the limit from the check before upload.
			xhr.onerror = () => reject(new ApiError(0, 'network', 'The connection to the server was lost during the upload.'));
			xhr.onabort = () => reject(new UploadCancelledError());
			const onAbort = () => xhr.abort();
			options.signal?.addEventListener('abort', onAbort, { once: true });
			xhr.onloadend = () => options.signal?.removeEventListener('abort', onAbort);
			if (options.signal?.aborted) return reject(new UploadCancelledError());
			xhr.send(ciphertext);
		});
	return async (channelId, ciphertext, options) => {
		let answer = await attempt(channelId, ciphertext, await csrfToken(), options);
		const code = (body: unknown) => (body as { error?: { code?: string } } | null)?.error?.code;
		if (answer.status === 403 && code(answer.body) === 'csrf') answer = await attempt(channelId, ciphertext, await csrfToken(true), options);
		if (answer.status === 201 || answer.status === 200) {
			const id = (answer.body as { attachment?: { id?: unknown } } | null)?.attachment?.id;
			if (typeof id === 'string') return { id };
			throw new ApiError(answer.status, 'bad_response', 'The server did not confirm the upload.');
		}
		const error = (answer.body as { error?: { code?: string; message?: string } } | null)?.error;
		throw new ApiError(answer.status, error?.code ?? `http_${answer.status}`, error?.message ?? `The server answered ${answer.status}.`);
	};
}
