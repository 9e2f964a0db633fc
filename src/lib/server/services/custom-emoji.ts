// Custom community emoji: members with "manage community" upload small PNG, GIF or WebP pictures
// under a name; every member sees the list and the pictures (as they see the community). Messages
// and reactions carry ":name:" in their encrypted text; the server only serves the pictures.
import { createHash } from 'node:crypto';
import { and, asc, count, eq } from 'drizzle-orm';
import {
	CUSTOM_EMOJI_MAX_BYTES,
	CUSTOM_EMOJI_MAX_MESSAGE,
	CUSTOM_EMOJI_PER_COMMUNITY_MAX,
	CUSTOM_EMOJI_TYPE_MESSAGE,
	customEmojiUrl,
	type CustomEmojiList,
	type CustomEmojiView
} from '#lib/shared/custom-emoji.ts';
import type { Database } from '../db/open.ts';
import { communityEmoji } from '../db/schema.ts';
import type { EventBus } from '../events/bus.ts';
import { accessCommunity, requirePermission } from '../access.ts';
import { conflict, invalid, notFound, payloadTooLarge } from '../errors.ts';
import { sniffEmojiImage, type EmojiImageType } from '../image-type.ts';
import { recordAudit } from './audit-log.ts';

export class CustomEmoji {
	#db: Database;
	#bus: EventBus;

	constructor(deps: { db: Database; bus: EventBus }) {
		this.#db = deps.db;
		this.#bus = deps.bus;
	}

	async list(userId: string, communityId: string): Promise<CustomEmojiList> {
		await accessCommunity(this.#db, userId, communityId);
		const rows = await this.#db
			.select({ id: communityEmoji.id, name: communityEmoji.name, etag: communityEmoji.etag })
			.from(communityEmoji)
			.where(eq(communityEmoji.communityId, communityId))
			.orderBy(asc(communityEmoji.name));
		return { emoji: rows.map((r) => view(communityId, r)), max: CUSTOM_EMOJI_PER_COMMUNITY_MAX };
	}

	/** Adds an emoji; the type comes from the bytes (SVG, also disguised as PNG, is refused). */
	async add(userId: string, communityId: string, name: string, bytes: Uint8Array): Promise<CustomEmojiView> {
		const access = await accessCommunity(this.#db, userId, communityId);
		requirePermission(access, 'manage_community');
		if (bytes.length > CUSTOM_EMOJI_MAX_BYTES) throw payloadTooLarge(CUSTOM_EMOJI_MAX_MESSAGE);
		const contentType = sniffEmojiImage(bytes);
		if (!contentType) throw invalid(CUSTOM_EMOJI_TYPE_MESSAGE);
		const etag = createHash('sha256').update(bytes).digest('hex').slice(0, 20);
		const id = crypto.randomUUID();
		await this.#db.transaction(async (tx) => {
			const [{ n } = { n: 0 }] = await tx.select({ n: count() }).from(communityEmoji).where(eq(communityEmoji.communityId, communityId));
			if (n >= CUSTOM_EMOJI_PER_COMMUNITY_MAX) throw conflict(`A community can have at most ${CUSTOM_EMOJI_PER_COMMUNITY_MAX} emoji. Remove one first.`);
			const inserted = await tx
				.insert(communityEmoji)
				.values({ id, communityId, name, contentType, bytes, etag, createdBy: userId })
				.onConflictDoNothing()
				.returning({ id: communityEmoji.id });
			if (inserted.length === 0) throw conflict(`This community already has an emoji called :${name}:.`);
			await recordAudit(tx, { communityId, actorId: userId, action: 'community.emoji_added', data: { name, contentType, bytes: bytes.length } });
		});
		this.#bus.publish([{ type: 'community.updated', communityId }]);
		return view(communityId, { id, name, etag });
	}

	async remove(userId: string, communityId: string, emojiId: string): Promise<void> {
		const access = await accessCommunity(this.#db, userId, communityId);
		requirePermission(access, 'manage_community');
		await this.#db.transaction(async (tx) => {
			const [gone] = await tx
				.delete(communityEmoji)
				.where(and(eq(communityEmoji.id, emojiId), eq(communityEmoji.communityId, communityId)))
				.returning({ name: communityEmoji.name });
			if (!gone) throw notFound('Emoji');
			await recordAudit(tx, { communityId, actorId: userId, action: 'community.emoji_removed', data: { name: gone.name } });
		});
		this.#bus.publish([{ type: 'community.updated', communityId }]);
	}

	/** The picture, for members of the community. */
	async image(userId: string, communityId: string, emojiId: string): Promise<{ contentType: EmojiImageType; bytes: Uint8Array; etag: string }> {
		await accessCommunity(this.#db, userId, communityId);
		const [row] = await this.#db
			.select({ contentType: communityEmoji.contentType, bytes: communityEmoji.bytes, etag: communityEmoji.etag })
			.from(communityEmoji)
			.where(and(eq(communityEmoji.id, emojiId), eq(communityEmoji.communityId, communityId)));
		if (!row) throw notFound('Emoji');
		return row;
	}
}

function view(communityId: string, row: { id: string; name: string; etag: string }): CustomEmojiView {
	return { id: row.id, name: row.name, url: customEmojiUrl(communityId, row.id, row.etag) };
}
