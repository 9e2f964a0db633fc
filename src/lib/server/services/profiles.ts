// Profiles: a person's avatar, bio, pronouns, custom status and chosen presence. All of it is
// public profile data (like the display name), served to the people who share a community or a DM
// with the person; none of it is message content. Changes tell those people (`user.updated`: their
// member lists and DMs refetch); a presence choice travels to every node (`presence.chosen`), where
// the hub applies it to what others see.
import { createHash } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import {
	AVATAR_MAX_BYTES,
	AVATAR_MAX_MESSAGE,
	AVATAR_TYPE_MESSAGE,
	avatarUrl,
	STATUS_EXPIRY_MAX_MS,
	visibleStatus,
	type CustomStatus,
	type OwnProfile,
	type PresenceChoice,
	type ProfileView
} from '#lib/shared/profile.ts';
import type { Database } from '../db/open.ts';
import { communityMembers, dmParticipants, userAvatars, users } from '../db/schema.ts';
import type { EventBus } from '../events/bus.ts';
import { invalid, notFound, payloadTooLarge, unauthenticated } from '../errors.ts';
import { sniffRasterImage, type RasterImageType } from '../image-type.ts';
import { visibleUserIds } from './devices.ts';

type UserRow = typeof users.$inferSelect;

export class Profiles {
	#db: Database;
	#bus: EventBus;
	/** The clock custom statuses expire by (a test fixes it). */
	#now: () => Date;

	constructor(deps: { db: Database; bus: EventBus; now?: () => Date }) {
		this.#db = deps.db;
		this.#bus = deps.bus;
		this.#now = deps.now ?? (() => new Date());
	}

	async own(userId: string): Promise<OwnProfile> {
		return this.#ownView(await this.#row(userId));
	}

	/** Another person's profile card; someone the caller shares no community or DM with answers like a missing one. */
	async of(viewerId: string, userId: string): Promise<ProfileView> {
		await this.requireVisible(viewerId, userId);
		const row = await this.#row(userId).catch(() => {
			throw notFound('User');
		});
		return { userId, avatarUrl: avatarUrl(userId, row.avatarEtag), bio: row.bio, pronouns: row.pronouns, status: visibleStatus(row, this.#now()) };
	}

	async update(userId: string, patch: { bio?: string; pronouns?: string }): Promise<OwnProfile> {
		const [row] = await this.#db.update(users).set(patch).where(eq(users.id, userId)).returning();
		if (!row) throw unauthenticated();
		await this.#announce(userId);
		return this.#ownView(row);
	}

	/** Replaces the avatar; the type comes from the bytes themselves (SVG and anything else is refused). */
	async setAvatar(userId: string, bytes: Uint8Array): Promise<OwnProfile> {
		if (bytes.length > AVATAR_MAX_BYTES) throw payloadTooLarge(AVATAR_MAX_MESSAGE);
		const contentType = sniffRasterImage(bytes);
		if (!contentType) throw invalid(AVATAR_TYPE_MESSAGE);
		const etag = createHash('sha256').update(bytes).digest('hex').slice(0, 20);
		const row = await this.#db.transaction(async (tx) => {
			await tx
				.insert(userAvatars)
				.values({ userId, contentType, bytes })
				.onConflictDoUpdate({ target: userAvatars.userId, set: { contentType, bytes, updatedAt: new Date() } });
			const [updated] = await tx.update(users).set({ avatarEtag: etag }).where(eq(users.id, userId)).returning();
			return updated;
		});
		if (!row) throw unauthenticated();
		await this.#announce(userId);
		return this.#ownView(row);
	}

	async removeAvatar(userId: string): Promise<OwnProfile> {
		const row = await this.#db.transaction(async (tx) => {
			await tx.delete(userAvatars).where(eq(userAvatars.userId, userId));
			const [updated] = await tx.update(users).set({ avatarEtag: null }).where(eq(users.id, userId)).returning();
			return updated;
		});
		if (!row) throw unauthenticated();
		await this.#announce(userId);
		return this.#ownView(row);
	}

	/** The avatar's bytes for someone who can see the person (themselves included); 404 otherwise or when none is set. */
	async avatar(viewerId: string, userId: string): Promise<{ contentType: RasterImageType; bytes: Uint8Array; etag: string }> {
		await this.requireVisible(viewerId, userId);
		const [row] = await this.#db
			.select({ contentType: userAvatars.contentType, bytes: userAvatars.bytes, etag: users.avatarEtag })
			.from(userAvatars)
			.innerJoin(users, eq(users.id, userAvatars.userId))
			.where(eq(userAvatars.userId, userId));
		if (!row?.etag) throw notFound('The picture');
		return { contentType: row.contentType, bytes: row.bytes, etag: row.etag };
	}

	async setStatus(userId: string, input: { emoji: string; text: string; expiresAt: string | null }): Promise<OwnProfile> {
		const now = this.#now().getTime();
		const expiresAt = input.expiresAt === null ? null : new Date(input.expiresAt);
		if (expiresAt && expiresAt.getTime() <= now) throw invalid('The status would end before it starts: choose a time in the future.');
		if (expiresAt && expiresAt.getTime() - now > STATUS_EXPIRY_MAX_MS) throw invalid('A status can be set for at most a week, or until cleared.');
		const [row] = await this.#db
			.update(users)
			.set({ statusEmoji: input.emoji, statusText: input.text, statusExpiresAt: expiresAt })
			.where(eq(users.id, userId))
			.returning();
		if (!row) throw unauthenticated();
		await this.#announce(userId);
		return this.#ownView(row);
	}

	async clearStatus(userId: string): Promise<OwnProfile> {
		const [row] = await this.#db.update(users).set({ statusEmoji: '', statusText: '', statusExpiresAt: null }).where(eq(users.id, userId)).returning();
		if (!row) throw unauthenticated();
		await this.#announce(userId);
		return this.#ownView(row);
	}

	/** Keeps the person's presence choice and tells every node (their hubs apply it and tell the person's other tabs). */
	async setPresence(userId: string, choice: PresenceChoice): Promise<PresenceChoice> {
		const [row] = await this.#db.update(users).set({ presenceChoice: choice }).where(eq(users.id, userId)).returning({ choice: users.presenceChoice });
		if (!row) throw unauthenticated();
		this.#bus.publish([{ type: 'presence.chosen', userId, choice: row.choice }]);
		return row.choice;
	}

	/** The custom status of a users row as others see it now (member lists, DM peers). */
	statusOf(row: { statusEmoji: string; statusText: string; statusExpiresAt: Date | null }): CustomStatus | null {
		return visibleStatus(row, this.#now());
	}

	/** Throws 404 unless the viewer is the person or shares a community or a DM with them. */
	async requireVisible(viewerId: string, userId: string): Promise<void> {
		if (viewerId === userId) return;
		// The same visibility rule as encryption devices: a shared community or DM.
		const [shared] = rowsOf<{ ok: number }>(await this.#db.execute(sql`select 1 as ok where ${userId}::uuid in ${visibleUserIds(viewerId)}`));
		if (!shared) throw notFound('User');
	}

	async #row(userId: string): Promise<UserRow> {
		const [row] = await this.#db.select().from(users).where(eq(users.id, userId));
		if (!row) throw unauthenticated();
		return row;
	}

	#ownView(row: UserRow): OwnProfile {
		return { avatarUrl: avatarUrl(row.id, row.avatarEtag), bio: row.bio, pronouns: row.pronouns, presence: row.presenceChoice, status: visibleStatus(row, this.#now()) };
	}

	/**
	 * From the database, not from who is online: the people to tell are those who share a community
	 * or a DM with the user, whether or not the user has a socket open.
	 */
	async #announce(userId: string): Promise<void> {
		const [memberships, dms] = await Promise.all([
			this.#db.select({ id: communityMembers.communityId }).from(communityMembers).where(eq(communityMembers.userId, userId)),
			this.#db.select({ id: dmParticipants.channelId }).from(dmParticipants).where(eq(dmParticipants.userId, userId))
		]);
		this.#bus.publish([{ type: 'user.updated', userId, communityIds: memberships.map((m) => m.id), dmChannelIds: dms.map((d) => d.id) }]);
	}
}

/** Rows of a raw `execute`: postgres.js returns an array, PGlite an object with `rows`. */
function rowsOf<T>(result: unknown): T[] {
	if (Array.isArray(result)) return result as T[];
	return ((result as { rows?: T[] }).rows ?? []) as T[];
}

/** The users columns a UserView's profile extras come from (member lists, DM peers). */
export const profileColumns = {
	avatarEtag: users.avatarEtag,
	statusEmoji: users.statusEmoji,
	statusText: users.statusText,
	statusExpiresAt: users.statusExpiresAt
};

/** A UserView's optional profile fields: present only when set (an avatar, an unexpired status). */
export function profileExtras(
	userId: string,
	row: { avatarEtag: string | null; statusEmoji: string; statusText: string; statusExpiresAt: Date | null },
	now = new Date()
): { avatarUrl?: string; status?: CustomStatus } {
	const url = avatarUrl(userId, row.avatarEtag);
	const status = visibleStatus(row, now);
	return { ...(url ? { avatarUrl: url } : {}), ...(status ? { status } : {}) };
}
