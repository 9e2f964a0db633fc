// Instance-wide settings kept in the database (one row), changed by instance owners and admins at
// run time without a restart. The row is cached in memory and replaced on every change made through
// this process; the change is announced on the bus (`instance.settings`), and other nodes of a
// cluster read the row again as soon as they hear of it. The cache time stays the bound when a
// notice cannot arrive (Redis away): no node serves a setting older than SETTINGS_CACHE_MS plus
// one read.
import { createHash } from 'node:crypto';
import { eq, inArray } from 'drizzle-orm';
import type { InstanceInfo, InstanceSettingsView } from '#lib/shared/api-types.ts';
import { RATE_LIMIT_FACTORS, type RateLimitLevel, type RegistrationMode } from '#lib/shared/validation.ts';
import type { Database } from '../db/open.ts';
import { communities, instanceIcon, instanceSettings, sessions, users } from '../db/schema.ts';
import type { BusNotice, EventBus } from '../events/bus.ts';
import { requireInstanceAdmin, type InstanceRole } from '../access.ts';
import { invalid, notFound, payloadTooLarge } from '../errors.ts';
import { sniffRasterImage, type RasterImageType } from '../image-type.ts';
import { recordAudit } from './audit-log.ts';
import { revokeDevicesOfSessions } from './devices.ts';
import type { TwoFactorPolicy, TwoFactorRequirement } from '../auth/two-factor-policy.ts';

type SettingsRow = typeof instanceSettings.$inferSelect;

/**
 * Largest instance icon. It is drawn at most a few dozen pixels wide, and every visitor of the
 * sign-in page downloads it once: 256 KB is plenty for a crisp 512×512 PNG and bounds the cost.
 */
export const ICON_MAX_BYTES = 256 * 1024;
export const ICON_MAX_MESSAGE = 'The icon can be at most 256 KB.';
export const ICON_TYPE_MESSAGE = 'The icon must be a PNG, JPEG or WebP image.';

/** Where the icon is served; the version makes a changed icon a new URL, so browsers may cache each for good. */
export function iconUrl(etag: string | null): string | null {
	return etag ? `/api/instance/icon?v=${etag}` : null;
}

// Short enough that a change made by another process shows within seconds, long enough that the
// send path does not read the row on every message.
const SETTINGS_CACHE_MS = 5_000;

export type SettingsChange = {
	name?: string;
	registrationMode?: RegistrationMode;
	messageMaxBytes?: number | null;
	uploadMaxBytes?: number | null;
	defaultCommunityId?: string | null;
	rateLimitLevel?: RateLimitLevel;
	guestAccess?: boolean;
	stunUrls?: string[];
	turnUrls?: string[];
	twoFactorRequirement?: TwoFactorRequirement;
	twoFactorGraceDays?: number;
};

// Widening the requirement restarts the grace period for those it newly covers; narrowing does not.
const REQUIREMENT_RANK: Record<TwoFactorRequirement, number> = { off: 0, admins: 1, everyone: 2 };

/** The environment's ICE settings: the defaults of the stunUrls and turnUrls settings, and whether TURN can sign credentials. */
export type IceDefaults = { stunUrls: string[]; turnUrls: string[]; turnSecretSet: boolean };

export const REQUIRE_OWN_FIRST = 'Turn on two-factor authentication for your own account (Settings → Security) before requiring it of others.';

export const TURN_NEEDS_SECRET_MESSAGE =
	"TURN servers need the TURN server's shared secret: set TURN_SECRET in the server's environment first.";

export class Instance {
	#db: Database;
	#bus: EventBus;
	/** MESSAGE_MAX_BYTES: the default and the ceiling of the message size setting. */
	#messageMaxBytesCeiling: number;
	#iceDefaults: IceDefaults;
	/** ATTACHMENT_MAX_BYTES: the default and the ceiling of the upload size setting. */
	#uploadMaxBytesCeiling: number;
	#cache: { row: SettingsRow; loadedAt: number } | null = null;
	#refreshing: Promise<void> | null = null;
	#refreshAgain = false;

	constructor(deps: { db: Database; bus: EventBus; messageMaxBytesCeiling: number; uploadMaxBytesCeiling?: number; iceDefaults: IceDefaults }) {
		this.#uploadMaxBytesCeiling = deps.uploadMaxBytesCeiling ?? 25 * 1024 * 1024;
		this.#db = deps.db;
		this.#bus = deps.bus;
		this.#messageMaxBytesCeiling = deps.messageMaxBytesCeiling;
		this.#iceDefaults = deps.iceDefaults;
		deps.bus.subscribe((notice) => {
			// Skipped only when the row held is the very one announced (the node that made the change):
			// comparing times across nodes would trust their clocks to agree.
			if (notice.type === 'instance.settings' && this.#cache?.row.updatedAt.getTime() !== notice.updatedAt) this.#refresh();
			// Settings notices may be among the missed ones: read the row again rather than wait for the cache time.
			if (notice.type === 'notices.missed') this.#refresh();
		});
	}

	/** Reads the row again in the background (one read at a time; a failure keeps the cached row). */
	#refresh(): void {
		if (this.#refreshing) {
			// A read already under way may have started before the change: read once more after it.
			this.#refreshAgain = true;
			return;
		}
		this.#refreshing = this.#load()
			.then(() => undefined, () => undefined)
			.finally(() => {
				this.#refreshing = null;
				if (this.#refreshAgain) {
					this.#refreshAgain = false;
					this.#refresh();
				}
			});
	}

	/** Keeps the new row and tells the other nodes (after commit). */
	#changed(row: SettingsRow): void {
		this.#cache = { row, loadedAt: Date.now() };
		this.#bus.publish([{ type: 'instance.settings', updatedAt: row.updatedAt.getTime() }]);
	}

	/** Creates the settings row on first start, seeded from the environment, and loads the cache. */
	async ensureDefaults(registrationMode: RegistrationMode): Promise<void> {
		await this.#db.insert(instanceSettings).values({ id: 1, registrationMode }).onConflictDoNothing();
		await this.#load();
	}

	async #load(): Promise<SettingsRow> {
		const [row] = await this.#db.select().from(instanceSettings).where(eq(instanceSettings.id, 1));
		if (!row) throw new Error('instance settings row missing');
		this.#cache = { row, loadedAt: Date.now() };
		return row;
	}

	async settingsRow(): Promise<SettingsRow> {
		if (this.#cache && Date.now() - this.#cache.loadedAt < SETTINGS_CACHE_MS) return this.#cache.row;
		return this.#load();
	}

	/**
	 * The message size limit now in force, without waiting: a stale cache is refreshed in the
	 * background (the send path must not pay a query for it).
	 */
	messageMaxBytes(): number {
		return this.#cachedRow()?.messageMaxBytes ?? this.#messageMaxBytesCeiling;
	}

	/** The attachment size limit now in force (ciphertext bytes), from the cache like messageMaxBytes. */
	uploadMaxBytes(): number {
		return this.#cachedRow()?.uploadMaxBytes ?? this.#uploadMaxBytesCeiling;
	}

	/**
	 * The multiplier of the environment's rate limits now in force, without waiting: every HTTP
	 * request and /ws frame asks, so it reads the cache like messageMaxBytes.
	 */
	rateLimitFactor(): number {
		return RATE_LIMIT_FACTORS[this.#cachedRow()?.rateLimitLevel ?? 'normal'];
	}

	/** Whether guest accounts may be created and their sessions used, from the cache (every request asks). */
	guestAccess(): boolean {
		return this.#cachedRow()?.guestAccess ?? false;
	}

	/** Who must use a second factor, from the cache: every request and /ws upgrade asks. */
	twoFactorPolicy(): TwoFactorPolicy {
		const row = this.#cachedRow();
		return { requirement: row?.twoFactorRequirement ?? 'off', graceDays: row?.twoFactorGraceDays ?? 7, requiredSince: row?.twoFactorRequiredSince ?? null };
	}

	/**
	 * The STUN and TURN URLs browsers get when they join a call: each list from the settings, or the
	 * environment's when it is empty. Asked once per join (not per frame), so it may read a stale row
	 * fresh: a change shows on the next join, in this process at once and in others within SETTINGS_CACHE_MS.
	 */
	async iceUrls(): Promise<{ stunUrls: string[]; turnUrls: string[] }> {
		const row = await this.settingsRow();
		return {
			stunUrls: row.stunUrls.length > 0 ? row.stunUrls : this.#iceDefaults.stunUrls,
			turnUrls: row.turnUrls.length > 0 ? row.turnUrls : this.#iceDefaults.turnUrls
		};
	}

	/** The cached row, refreshed in the background once stale; null only before ensureDefaults. */
	#cachedRow(): SettingsRow | null {
		if (this.#cache && Date.now() - this.#cache.loadedAt >= SETTINGS_CACHE_MS && !this.#refreshing) this.#refresh();
		return this.#cache?.row ?? null;
	}

	async info(): Promise<InstanceInfo> {
		const settings = await this.settingsRow();
		const [anyone] = await this.#db.select({ id: users.id }).from(users).limit(1);
		return { name: settings.instanceName, registrationMode: settings.registrationMode, needsSetup: !anyone, iconUrl: iconUrl(settings.iconEtag) };
	}

	/** The name and icon every page shows, from the cache (no query per page load). */
	branding(): { name: string; iconUrl: string | null } {
		const row = this.#cachedRow();
		return { name: row?.instanceName ?? 'Hearth', iconUrl: iconUrl(row?.iconEtag ?? null) };
	}

	/** The icon's bytes for the public URL, or a 404 when there is none. */
	async icon(): Promise<{ contentType: RasterImageType; bytes: Uint8Array; etag: string }> {
		const [row] = await this.#db
			.select({ contentType: instanceIcon.contentType, bytes: instanceIcon.bytes, etag: instanceSettings.iconEtag })
			.from(instanceIcon)
			.innerJoin(instanceSettings, eq(instanceSettings.id, 1));
		if (!row?.etag) throw notFound('The icon');
		return { contentType: row.contentType, bytes: row.bytes, etag: row.etag };
	}

	/** Replaces the icon; the type comes from the bytes themselves. Audited with its type and size, not its bytes. */
	async setIcon(actor: { id: string; instanceRole: InstanceRole }, bytes: Uint8Array): Promise<InstanceSettingsView> {
		requireInstanceAdmin(actor);
		if (bytes.length > ICON_MAX_BYTES) throw payloadTooLarge(ICON_MAX_MESSAGE);
		const contentType = sniffRasterImage(bytes);
		if (!contentType) throw invalid(ICON_TYPE_MESSAGE);
		const etag = createHash('sha256').update(bytes).digest('hex').slice(0, 20);
		const row = await this.#db.transaction(async (tx) => {
			await tx
				.insert(instanceIcon)
				.values({ id: 1, contentType, bytes })
				.onConflictDoUpdate({ target: instanceIcon.id, set: { contentType, bytes, updatedAt: new Date() } });
			const [updated] = await tx.update(instanceSettings).set({ iconEtag: etag, updatedAt: new Date() }).where(eq(instanceSettings.id, 1)).returning();
			await recordAudit(tx, { communityId: null, actorId: actor.id, action: 'instance.icon_changed', data: { contentType, bytes: bytes.length } });
			return updated!;
		});
		this.#changed(row);
		return this.#view(row);
	}

	async removeIcon(actor: { id: string; instanceRole: InstanceRole }): Promise<InstanceSettingsView> {
		requireInstanceAdmin(actor);
		const row = await this.#db.transaction(async (tx) => {
			const deleted = await tx.delete(instanceIcon).returning({ id: instanceIcon.id });
			const [updated] = await tx.update(instanceSettings).set({ iconEtag: null, updatedAt: new Date() }).where(eq(instanceSettings.id, 1)).returning();
			if (deleted.length > 0) await recordAudit(tx, { communityId: null, actorId: actor.id, action: 'instance.icon_removed' });
			return updated!;
		});
		this.#changed(row);
		return this.#view(row);
	}

	async settings(actor: { instanceRole: InstanceRole }): Promise<InstanceSettingsView> {
		requireInstanceAdmin(actor);
		return this.#view(await this.settingsRow());
	}

	#view(row: SettingsRow): InstanceSettingsView {
		return {
			name: row.instanceName,
			registrationMode: row.registrationMode,
			messageMaxBytes: row.messageMaxBytes,
			messageMaxBytesCeiling: this.#messageMaxBytesCeiling,
			uploadMaxBytes: row.uploadMaxBytes,
			uploadMaxBytesCeiling: this.#uploadMaxBytesCeiling,
			defaultCommunityId: row.defaultCommunityId,
			rateLimitLevel: row.rateLimitLevel,
			iconUrl: iconUrl(row.iconEtag),
			guestAccess: row.guestAccess,
			stunUrls: row.stunUrls,
			turnUrls: row.turnUrls,
			stunUrlsDefault: this.#iceDefaults.stunUrls,
			turnUrlsDefault: this.#iceDefaults.turnUrls,
			turnSecretSet: this.#iceDefaults.turnSecretSet,
			twoFactorRequirement: row.twoFactorRequirement,
			twoFactorGraceDays: row.twoFactorGraceDays
		};
	}

	async update(actor: { id: string; instanceRole: InstanceRole; twoFactor?: boolean }, input: SettingsChange): Promise<InstanceSettingsView> {
		requireInstanceAdmin(actor);
		// Any requirement covers the admin making it: they show it works by having a second factor first.
		if (input.twoFactorRequirement && input.twoFactorRequirement !== 'off' && actor.twoFactor === false) throw invalid(REQUIRE_OWN_FIRST);
		if (input.messageMaxBytes != null && input.messageMaxBytes > this.#messageMaxBytesCeiling) {
			throw invalid(`The message size limit can be at most ${this.#messageMaxBytesCeiling} bytes (MESSAGE_MAX_BYTES on the server).`);
		}
		if (input.uploadMaxBytes != null && input.uploadMaxBytes > this.#uploadMaxBytesCeiling) {
			throw invalid(`The upload size limit can be at most ${this.#uploadMaxBytesCeiling} bytes (ATTACHMENT_MAX_BYTES on the server).`);
		}
		// The secret never leaves the environment, so TURN URLs set here are useless without it.
		if (input.turnUrls && input.turnUrls.length > 0 && !this.#iceDefaults.turnSecretSet) throw invalid(TURN_NEEDS_SECRET_MESSAGE);
		const patch: Partial<typeof instanceSettings.$inferInsert> = {};
		if (input.name !== undefined) patch.instanceName = input.name;
		if (input.registrationMode !== undefined) patch.registrationMode = input.registrationMode;
		if (input.messageMaxBytes !== undefined) patch.messageMaxBytes = input.messageMaxBytes;
		if (input.uploadMaxBytes !== undefined) patch.uploadMaxBytes = input.uploadMaxBytes;
		if (input.defaultCommunityId !== undefined) patch.defaultCommunityId = input.defaultCommunityId;
		if (input.rateLimitLevel !== undefined) patch.rateLimitLevel = input.rateLimitLevel;
		if (input.guestAccess !== undefined) patch.guestAccess = input.guestAccess;
		if (input.stunUrls !== undefined) patch.stunUrls = input.stunUrls;
		if (input.turnUrls !== undefined) patch.turnUrls = input.turnUrls;
		if (input.twoFactorRequirement !== undefined) patch.twoFactorRequirement = input.twoFactorRequirement;
		if (input.twoFactorGraceDays !== undefined) patch.twoFactorGraceDays = input.twoFactorGraceDays;
		if (Object.keys(patch).length === 0) return this.#view(await this.settingsRow());
		const { row, revokedGuestSessions, deviceNotices } = await this.#db.transaction(async (tx) => {
			if (input.defaultCommunityId) {
				const [community] = await tx.select({ id: communities.id }).from(communities).where(eq(communities.id, input.defaultCommunityId));
				if (!community) throw invalid('The default community does not exist.');
			}
			const [before] = await tx.select().from(instanceSettings).where(eq(instanceSettings.id, 1)).for('update');
			const widened =
				patch.twoFactorRequirement !== undefined && before && REQUIREMENT_RANK[patch.twoFactorRequirement] > REQUIREMENT_RANK[before.twoFactorRequirement];
			const [updated] = await tx
				.update(instanceSettings)
				.set({ ...patch, ...(widened ? { twoFactorRequiredSince: new Date() } : {}), updatedAt: new Date() })
				.where(eq(instanceSettings.id, 1))
				.returning();
			const changed: Record<string, { from: unknown; to: unknown }> = {};
			for (const key of Object.keys(patch) as (keyof typeof patch)[]) {
				const from = before?.[key as keyof SettingsRow] ?? null;
				const to = patch[key] ?? null;
				// A value sent again unchanged (a form saving every field) is not a change worth a line.
				// Lists (the ICE URLs) compare by content.
				if (Array.isArray(from) || Array.isArray(to) ? JSON.stringify(from) !== JSON.stringify(to) : from !== to) changed[key] = { from, to };
			}
			if (Object.keys(changed).length > 0) {
				await recordAudit(tx, { communityId: null, actorId: actor.id, action: 'instance.settings_changed', data: changed });
			}
			// Guest access turned off signs every guest out (their sessions are their only way in).
			let revokedGuestSessions: string[] = [];
			let deviceNotices: BusNotice[] = [];
			if (changed.guestAccess && patch.guestAccess === false) {
				const revoked = await tx
					.delete(sessions)
					.where(inArray(sessions.userId, tx.select({ id: users.id }).from(users).where(eq(users.isGuest, true))))
					.returning({ id: sessions.id, deviceId: sessions.deviceId });
				revokedGuestSessions = revoked.map((r) => r.id);
				deviceNotices = (await revokeDevicesOfSessions(tx, revoked)).notices;
			}
			return { row: updated!, revokedGuestSessions, deviceNotices };
		});
		this.#changed(row);
		// After commit: their open /ws connections close.
		if (revokedGuestSessions.length > 0) this.#bus.publish([{ type: 'sessions.revoked', sessionIds: revokedGuestSessions }, ...deviceNotices]);
		return this.#view(row);
	}
}
