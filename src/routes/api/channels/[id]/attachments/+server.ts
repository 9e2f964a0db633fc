import { AppError, invalid } from '#lib/server/errors.ts';
import { endpoint, errorResponse, idParam, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/**
 * Stores an encrypted attachment (application/octet-stream, ciphertext only) for members who may
 * send in the channel. The size is counted while the body streams in; past the limit the answer
 * is 413 and the connection is closed, so the rest of an oversized body is never read (beyond a
 * small drain allowance, body-limit.ts). Whatever Content-Length says, the bytes are what count.
 */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Channel');
	const attachments = event.locals.app.services.attachments;
	try {
		// Who may upload first: a stranger learns nothing else (404), whatever the body.
		await attachments.checkCanUpload(user.id, id);
		const type = (event.request.headers.get('content-type') ?? '').toLowerCase();
		if (!type.startsWith('application/octet-stream')) throw invalid('Send the encrypted file as application/octet-stream.');
		return json({ attachment: await attachments.store(user.id, id, event.request.body) }, 201);
	} catch (error) {
		// Keeping the connection would make Node read (and discard) the rest of the body.
		if (error instanceof AppError && error.status === 413) {
			const response = errorResponse(413, error.code, error.message);
			response.headers.set('connection', 'close');
			return response;
		}
		throw error;
	}
});
