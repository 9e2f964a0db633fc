// Reading attachments: download the ciphertext, decrypt it while it streams in, and hand the
// plaintext to the page only as a Blob behind an object URL that its user revokes. Nothing is
// written anywhere else (no cache of plaintext), nothing is logged.
import { downloadAndDecrypt } from '../e2ee/attachment-transfer.ts';
import type { AttachmentRef } from '../e2ee/message-content.ts';
import { E2eeServerApi } from '../e2ee/server-api.ts';
import { loadSodium } from '../e2ee/sodium.ts';

let serverApi: E2eeServerApi | undefined;

/** The attachment's plaintext (throws AttachmentDecryptionError on an altered file, ApiError when it is gone). */
export async function decryptAttachment(ref: AttachmentRef): Promise<Blob> {
	serverApi ??= new E2eeServerApi();
	const api = serverApi;
	return downloadAndDecrypt(await loadSodium(), ref, (id) => api.downloadAttachment(id));
}

/**
 * How long a download's object URL lives: the browser must have started reading it when the click
 * is handled, but some need a moment after; a minute is plenty and then the plaintext is released.
 */
const DOWNLOAD_URL_LIFETIME_MS = 60_000;

/** Saves a decrypted file under its name through the browser's download. */
export function saveFile(blob: Blob, name: string): void {
	const url = URL.createObjectURL(blob);
	const link = document.createElement('a');
	link.href = url;
	link.download = name;
	link.rel = 'noopener';
	link.style.display = 'none';
	document.body.append(link);
	link.click();
	link.remove();
	setTimeout(() => URL.revokeObjectURL(url), DOWNLOAD_URL_LIFETIME_MS);
}
