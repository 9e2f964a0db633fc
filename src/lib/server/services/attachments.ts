// Encrypted attachments: the browser encrypts a file (secretstream, 64 KiB chunks) and uploads the
// ciphertext; its key travels inside the encrypted message. The server checks who may upload and
// read, and the size, which it counts while the body streams in: it stops reading as soon as the
// limit is passed and never holds more than the limit in memory.
import { and, eq } from 'drizzle-orm';
import type { Database } from '../db/open.ts';
import { attachments, channels, communityMembers } from '../db/schema.ts';
import { ATTACHMENT_EXPIRY_GRACE_MS } from './disappearing.ts';
import { accessChannel } from '../access.ts';
import { forbidden, invalid, notFound, payloadTooLarge } from '../errors.ts';
import { forbiddenTimedOut } from './moderation.ts';
import { readStreamCapped } from '../body-limit.ts';

export type AttachmentView = { id: string; channelId: string; size: number; createdAt: string };

export function attachmentTooLarge(maxBytes: number) {
	return payloadTooLarge(`Attachments can be at most ${maxBytes} bytes (encrypted) on this server.`);
}

export class Attachments {
	#db: Database;
	#maxBytes: () => number;

	constructor(deps: { db: Database; maxBytes: () => number }) {
		this.#db = deps.db;
		this.#maxBytes = deps.maxBytes;
	}

	/** The upload limit now in force (ATTACHMENT_MAX_BYTES or the admin's lower setting). */
	maxBytes(): number {
		return this.#maxBytes();
	}

	/** Refuses before any byte is read: unknown channel (404), not allowed to send here (403). */
	async checkCanUpload(userId: string, channelId: string): Promise<void> {
		const access = await accessChannel(this.#db, userId, channelId);
		if (access.channel.archivedAt) throw forbidden('This channel is archived: it takes no new messages.');
		if (access.scope.kind === 'community') {
			const [member] = await this.#db
				.select({ timedOutUntil: communityMembers.timedOutUntil })
				.from(communityMembers)
				.where(and(eq(communityMembers.communityId, access.scope.communityId), eq(communityMembers.userId, userId)));
			if (member?.timedOutUntil && member.timedOutUntil.getTime() > Date.now()) throw forbiddenTimedOut(member.timedOutUntil);
			if (!access.permissions.has('send_messages')) throw forbidden('Your role cannot post in this channel.');
		}
	}

	/**
	 * Reads the body, counting: never more than `limit` bytes are buffered; past it 413 is thrown
	 * (readStreamCapped: a slightly larger body is drained so the client can read the answer, a
	 * much larger one is cut off). Then stores the ciphertext. Call checkCanUpload first.
	 */
	async store(userId: string, channelId: string, body: ReadableStream<Uint8Array> | null): Promise<AttachmentView> {
		const limit = this.#maxBytes();
		if (!body) throw invalid('Send the encrypted file as the request body.');
		const data = await readStreamCapped(body, limit, () => attachmentTooLarge(limit));
		const size = data.byteLength;
		if (size === 0) throw invalid('The attachment is empty.');
		const id = crypto.randomUUID();
		// In a conversation with disappearing messages the file goes too. The server cannot tell which
		// (encrypted) message carries it, so it expires with the timer counted from the upload plus
		// a grace for the time between uploading and sending (ATTACHMENT_EXPIRY_GRACE_MS).
		const [channel] = await this.#db.select({ disappearingSeconds: channels.disappearingSeconds }).from(channels).where(eq(channels.id, channelId));
		const ttl = channel?.disappearingSeconds ?? 0;
		const expiresAt = ttl > 0 ? new Date(Date.now() + ttl * 1000 + ATTACHMENT_EXPIRY_GRACE_MS) : null;
		const [row] = await this.#db.insert(attachments).values({ id, channelId, uploaderId: userId, size, data, expiresAt }).returning({
			id: attachments.id,
			createdAt: attachments.createdAt
		});
		return { id, channelId, size, createdAt: row!.createdAt.toISOString() };
	}

	/** The ciphertext, for readers of its channel only (others: 404, like a missing one). */
	async download(userId: string, attachmentId: string): Promise<{ data: Uint8Array; size: number }> {
		const [meta] = await this.#db.select({ channelId: attachments.channelId }).from(attachments).where(eq(attachments.id, attachmentId));
		if (!meta) throw notFound('Attachment');
		try {
			await accessChannel(this.#db, userId, meta.channelId);
		} catch {
			throw notFound('Attachment');
		}
		const [row] = await this.#db.select({ data: attachments.data, size: attachments.size }).from(attachments).where(eq(attachments.id, attachmentId));
		if (!row) throw notFound('Attachment');
		return row;
	}
}
