// Plain words for why an attachment cannot be shown; shared by the image and the file card.
import { ApiError } from '#lib/client/api.ts';
import { AttachmentDecryptionError } from '#lib/client/e2ee/attachment-crypto.ts';

export function attachmentFailure(error: unknown): string {
	if (error instanceof AttachmentDecryptionError) return 'This file could not be decrypted: it was altered, or its key does not match.';
	if (error instanceof ApiError && error.status === 404) return 'This file is no longer available.';
	if (error instanceof ApiError && error.status === 0) return 'This file could not be downloaded. Check your connection and try again.';
	return 'This file could not be opened.';
}
