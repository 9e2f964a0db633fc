// End-to-end encryption devices on the server: registration (public keys only), prekey publishing
// and claiming, the to-device queue (pairwise ciphertext held for one device until acknowledged),
// and revocation. The server never holds a private key and never parses a to-device body.
//
// One device per session: a browser profile signs in (a session), then registers its keys as that
// session's device. Deleting the session revokes the device, and revoking the device deletes its
// sessions (revokeDevices below is the one place that does it).
import { createPublicKey, verify } from 'node:crypto';
import { and, asc, count, eq, gt, inArray, isNull, lte, sql, type SQL } from 'drizzle-orm';
import {
	ONE_TIME_PREKEYS_MAX_STORED,
	SIGNED_PREKEY_CONTEXT,
	type ChannelDevicesView,
	type OneTimePrekey,
	type OwnDeviceView,
	type PrekeyBundle,
	type PublicDeviceView,
	type RegisterDeviceRequest,
	type SendToDeviceRequest,
	type SignedPrekey,
	type ToDeviceMessage
} from '#lib/shared/e2ee.ts';
import { ErrorCode } from '#lib/shared/protocol/codes.ts';
import type { Database, Executor } from '../db/open.ts';
import {
	communityMembers,
	deviceOneTimePrekeys,
	devices,
	deviceSignedPrekeys,
	dmParticipants,
	pushSubscriptions,
	sessions,
	toDeviceMessages
} from '../db/schema.ts';
import type { BusNotice, EventBus } from '../events/bus.ts';
import { accessChannel } from '../access.ts';
import { AppError, invalid, notFound } from '../errors.ts';

type DeviceRow = typeof devices.$inferSelect;
type SessionRef = { id: string; deviceId: string | null };

/**
 * Undelivered to-device messages one device may have waiting. A device that stays offline for
 * long can be far behind, but sender keys for a few hundred channels fit many times over; past
 * this the queue is a sign of abuse or of a dead device, and senders get 429 to_device_queue_full.
 */
export const TO_DEVICE_QUEUE_MAX = 10_000;
/** A to-device page: large enough to drain a typical backlog in a few requests. */
export const TO_DEVICE_PAGE_DEFAULT = 100;
export const TO_DEVICE_PAGE_MAX = 500;
// last_seen_at of a device is written at most this often, like sessions'.
const LAST_SEEN_RESOLUTION_MS = 5 * 60_000;

const deviceRequired = () =>
	new AppError(409, ErrorCode.deviceRequired, 'This browser is not registered as an encryption device (or it was removed). Register it first.');

/**
 * The users a viewer may see devices of: themselves, and everyone sharing a community or a DM
 * channel with them. As SQL, so it combines with any query on devices.
 */
export function visibleUserIds(viewerId: string): SQL {
	return sql`(
		select ${viewerId}::uuid
		union
		select b.user_id from ${communityMembers} a join ${communityMembers} b on b.community_id = a.community_id where a.user_id = ${viewerId}
		union
		select b.user_id from ${dmParticipants} a join ${dmParticipants} b on b.channel_id = a.channel_id where a.user_id = ${viewerId}
	)`;
}

/** Ed25519 verification of a signed prekey, by Node's crypto (the server needs no libsodium). */
export function signedPrekeyValid(identityKey: string, signedPrekey: SignedPrekey): boolean {
	try {
		const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: identityKey }, format: 'jwk' });
		const message = Buffer.concat([Buffer.from(SIGNED_PREKEY_CONTEXT, 'utf8'), Buffer.from(signedPrekey.publicKey, 'base64url')]);
		return verify(null, message, key, Buffer.from(signedPrekey.signature, 'base64url'));
	} catch {
		// Not a valid Ed25519 public key.
		return false;
	}
}

/**
 * Revokes devices (idempotent): marks them revoked, deletes their prekeys and queued messages and
 * their sessions. Run it in the transaction that deletes sessions or disables an account; publish
 * the returned notices after commit.
 */
export async function revokeDevices(tx: Executor, deviceIds: Array<string | null>): Promise<{ sessionIds: string[]; notices: BusNotice[] }> {
	const ids = [...new Set(deviceIds.filter((id): id is string => id !== null))];
	if (ids.length === 0) return { sessionIds: [], notices: [] };
	const revoked = await tx
		.update(devices)
		.set({ revokedAt: new Date() })
		.where(and(inArray(devices.id, ids), isNull(devices.revokedAt)))
		.returning({ userId: devices.userId });
	await tx.delete(deviceOneTimePrekeys).where(inArray(deviceOneTimePrekeys.deviceId, ids));
	await tx.delete(deviceSignedPrekeys).where(inArray(deviceSignedPrekeys.deviceId, ids));
	await tx.delete(toDeviceMessages).where(inArray(toDeviceMessages.recipientDeviceId, ids));
	// A removed browser gets no more pushes (its subscription belonged to the device).
	await tx.delete(pushSubscriptions).where(inArray(pushSubscriptions.deviceId, ids));
	const deleted = await tx.delete(sessions).where(inArray(sessions.deviceId, ids)).returning({ id: sessions.id });
	const sessionIds = deleted.map((d) => d.id);
	const notices = await devicesChangedNotices(tx, revoked.map((r) => r.userId));
	if (sessionIds.length > 0) notices.unshift({ type: 'sessions.revoked', sessionIds });
	return { sessionIds, notices };
}

/** Revokes the devices of sessions being deleted (sign-out, session revoked, account disabled). */
export async function revokeDevicesOfSessions(tx: Executor, deletedSessions: SessionRef[]) {
	return revokeDevices(tx, deletedSessions.map((s) => s.deviceId));
}

/**
 * `devices.changed` notices for these users: read from the database in the caller's transaction, so
 * the audience is everyone sharing a community or a DM with them at that moment (and themselves).
 */
export async function devicesChangedNotices(db: Executor, userIds: string[]): Promise<BusNotice[]> {
	const unique = [...new Set(userIds)];
	const notices: BusNotice[] = [];
	for (const userId of unique) {
		const [memberships, dms] = await Promise.all([
			db.select({ id: communityMembers.communityId }).from(communityMembers).where(eq(communityMembers.userId, userId)),
			db.select({ id: dmParticipants.channelId }).from(dmParticipants).where(eq(dmParticipants.userId, userId))
		]);
		notices.push({ type: 'devices.changed', userId, communityIds: memberships.map((m) => m.id), dmChannelIds: dms.map((d) => d.id) });
	}
	return notices;
}

function ownView(row: DeviceRow, currentDeviceId: string | null): OwnDeviceView {
	return {
		id: row.id,
		name: row.name,
		identityKey: row.identityKey,
		createdAt: row.createdAt.toISOString(),
		lastSeenAt: row.lastSeenAt.toISOString(),
		current: row.id === currentDeviceId
	};
}

function publicView(row: Pick<DeviceRow, 'id' | 'userId' | 'identityKey' | 'createdAt'>): PublicDeviceView {
	return { id: row.id, userId: row.userId, identityKey: row.identityKey, createdAt: row.createdAt.toISOString() };
}

const publicColumns = { id: devices.id, userId: devices.userId, identityKey: devices.identityKey, createdAt: devices.createdAt };

export class Devices {
	#db: Database;
	#bus: EventBus;

	constructor(deps: { db: Database; bus: EventBus }) {
		this.#db = deps.db;
		this.#bus = deps.bus;
	}

	/** The session's device if it has one that is not revoked; otherwise device_required. */
	async #currentDevice(db: Executor, session: SessionRef): Promise<DeviceRow> {
		if (!session.deviceId) throw deviceRequired();
		const [row] = await db.select().from(devices).where(and(eq(devices.id, session.deviceId), isNull(devices.revokedAt)));
		if (!row) throw deviceRequired();
		return row;
	}

	async register(userId: string, session: SessionRef, request: RegisterDeviceRequest): Promise<OwnDeviceView> {
		if (!signedPrekeyValid(request.identityKey, request.signedPrekey)) {
			throw invalid('The signed prekey signature does not verify with the identity key.');
		}
		const ids = request.oneTimePrekeys.map((k) => k.id);
		if (new Set(ids).size !== ids.length) throw invalid('One-time prekey ids must be distinct.');
		const deviceId = crypto.randomUUID();
		const { row, notices } = await this.#db.transaction(async (tx) => {
			// Locks the session row: two concurrent registrations of one session cannot both succeed.
			const [current] = await tx.select({ deviceId: sessions.deviceId }).from(sessions).where(eq(sessions.id, session.id)).for('update');
			if (!current) throw new AppError(401, ErrorCode.unauthenticated, 'Sign in to continue.');
			let replaced: BusNotice[] = [];
			if (current.deviceId) {
				if (!request.replaceCurrent) throw new AppError(409, ErrorCode.deviceExists, 'This session has registered its device already.');
				// The old device's keys are gone with the browser's storage: revoke it, but keep this
				// session (detached first, so the revocation does not sign it out).
				await tx.update(sessions).set({ deviceId: null }).where(eq(sessions.id, session.id));
				replaced = (await revokeDevices(tx, [current.deviceId])).notices;
			}
			const [taken] = await tx.select({ id: devices.id }).from(devices).where(eq(devices.identityKey, request.identityKey));
			// Also a removed device's key: a revoked identity never comes back.
			if (taken) throw new AppError(409, ErrorCode.deviceExists, 'This identity key is registered already; generate a new one.');
			const [row] = await tx.insert(devices).values({ id: deviceId, userId, name: request.name, identityKey: request.identityKey }).returning();
			await tx.insert(deviceSignedPrekeys).values({ deviceId, keyId: request.signedPrekey.id, publicKey: request.signedPrekey.publicKey, signature: request.signedPrekey.signature });
			if (request.oneTimePrekeys.length > 0) {
				await tx.insert(deviceOneTimePrekeys).values(request.oneTimePrekeys.map((k) => ({ deviceId, keyId: k.id, publicKey: k.publicKey })));
			}
			await tx.update(sessions).set({ deviceId }).where(eq(sessions.id, session.id));
			return { row: row!, notices: [...replaced.filter((n) => n.type !== 'devices.changed'), ...(await devicesChangedNotices(tx, [userId]))] };
		});
		session.deviceId = deviceId;
		this.#bus.publish(notices);
		return ownView(row, deviceId);
	}

	async listOwn(userId: string, currentDeviceId: string | null): Promise<OwnDeviceView[]> {
		const rows = await this.#db
			.select()
			.from(devices)
			.where(and(eq(devices.userId, userId), isNull(devices.revokedAt)))
			.orderBy(asc(devices.createdAt));
		return rows.map((row) => ownView(row, currentDeviceId));
	}

	async rename(userId: string, deviceId: string, name: string, currentDeviceId: string | null): Promise<OwnDeviceView> {
		const [row] = await this.#db
			.update(devices)
			.set({ name })
			.where(and(eq(devices.id, deviceId), eq(devices.userId, userId), isNull(devices.revokedAt)))
			.returning();
		if (!row) throw notFound('Device');
		return ownView(row, currentDeviceId);
	}

	/** Removes one of the user's devices: revoked, its keys and queue deleted, its sessions signed out. */
	async remove(userId: string, deviceId: string): Promise<{ sessionIds: string[] }> {
		const { sessionIds, notices } = await this.#db.transaction(async (tx) => {
			const [row] = await tx
				.select({ id: devices.id })
				.from(devices)
				.where(and(eq(devices.id, deviceId), eq(devices.userId, userId), isNull(devices.revokedAt)));
			if (!row) throw notFound('Device');
			return revokeDevices(tx, [deviceId]);
		});
		this.#bus.publish(notices);
		return { sessionIds };
	}

	async current(session: SessionRef): Promise<{ device: OwnDeviceView; oneTimePrekeyCount: number }> {
		let row: DeviceRow;
		try {
			row = await this.#currentDevice(this.#db, session);
		} catch {
			throw notFound('Device');
		}
		await this.#touch(row);
		return { device: ownView(row, row.id), oneTimePrekeyCount: await this.#otkCount(this.#db, row.id) };
	}

	async #touch(row: DeviceRow) {
		const now = Date.now();
		if (now - row.lastSeenAt.getTime() < LAST_SEEN_RESOLUTION_MS) return;
		row.lastSeenAt = new Date(now);
		await this.#db.update(devices).set({ lastSeenAt: row.lastSeenAt }).where(eq(devices.id, row.id));
	}

	async #otkCount(db: Executor, deviceId: string): Promise<number> {
		const [row] = await db.select({ n: count() }).from(deviceOneTimePrekeys).where(eq(deviceOneTimePrekeys.deviceId, deviceId));
		return Number(row?.n ?? 0);
	}

	/** Adds one-time prekeys; refused (400) when the device would store more than ONE_TIME_PREKEYS_MAX_STORED. */
	async uploadOneTimePrekeys(session: SessionRef, keys: OneTimePrekey[]): Promise<{ oneTimePrekeyCount: number }> {
		const ids = keys.map((k) => k.id);
		if (new Set(ids).size !== ids.length) throw invalid('One-time prekey ids must be distinct.');
		return this.#db.transaction(async (tx) => {
			const device = await this.#currentDevice(tx, session);
			// Serialises uploads of one device, so two cannot both pass the cap check.
			await tx.select({ id: devices.id }).from(devices).where(eq(devices.id, device.id)).for('update');
			const stored = await this.#otkCount(tx, device.id);
			if (stored + keys.length > ONE_TIME_PREKEYS_MAX_STORED) {
				throw invalid(`A device may store at most ${ONE_TIME_PREKEYS_MAX_STORED} one-time prekeys; ${stored} are stored.`);
			}
			if (keys.length > 0) {
				const inserted = await tx
					.insert(deviceOneTimePrekeys)
					.values(keys.map((k) => ({ deviceId: device.id, keyId: k.id, publicKey: k.publicKey })))
					.onConflictDoNothing()
					.returning({ keyId: deviceOneTimePrekeys.keyId });
				if (inserted.length !== keys.length) throw invalid('A one-time prekey with one of these ids is stored already.');
			}
			return { oneTimePrekeyCount: stored + keys.length };
		});
	}

	async replaceSignedPrekey(session: SessionRef, signedPrekey: SignedPrekey): Promise<void> {
		const device = await this.#currentDevice(this.#db, session);
		if (!signedPrekeyValid(device.identityKey, signedPrekey)) throw invalid('The signed prekey signature does not verify with the identity key.');
		const values = { keyId: signedPrekey.id, publicKey: signedPrekey.publicKey, signature: signedPrekey.signature, createdAt: new Date() };
		await this.#db
			.insert(deviceSignedPrekeys)
			.values({ deviceId: device.id, ...values })
			.onConflictDoUpdate({ target: deviceSignedPrekeys.deviceId, set: values });
	}

	/** Current devices of a user the viewer shares a community or DM with (or their own); else 404. */
	async listUserDevices(viewerId: string, userId: string): Promise<PublicDeviceView[]> {
		const [visible] = rowsOf<{ ok: number }>(await this.#db.execute(sql`select 1 as ok where ${userId}::uuid in ${visibleUserIds(viewerId)}`));
		if (!visible) throw notFound('User');
		const rows = await this.#db
			.select(publicColumns)
			.from(devices)
			.where(and(eq(devices.userId, userId), isNull(devices.revokedAt)))
			.orderBy(asc(devices.createdAt));
		return rows.map(publicView);
	}

	/**
	 * Devices of everyone who can read the channel; 404 for those who cannot, like other channel
	 * routes. Every reader is listed, also one without a device yet: a sender key made now records
	 * them as a reader, so the device they register a moment later gets it on request (issue 17: a
	 * newcomer whose browser registered just after the sender read this list never got the greeting).
	 */
	async channelDevices(viewerId: string, channelId: string): Promise<ChannelDevicesView> {
		const access = await accessChannel(this.#db, viewerId, channelId);
		const scope = access.scope;
		const communityReaders = scope.kind === 'dm' ? null : this.#db.select({ id: communityMembers.userId }).from(communityMembers).where(eq(communityMembers.communityId, scope.communityId));
		const readerIds = scope.kind === 'dm' ? scope.userIds : (await communityReaders!.orderBy(asc(communityMembers.userId))).map((r) => r.id);
		const rows = await this.#db
			.select(publicColumns)
			.from(devices)
			// The members subquery, not the id list: a large community must not become thousands of parameters.
			.where(and(inArray(devices.userId, communityReaders ?? readerIds), isNull(devices.revokedAt)))
			.orderBy(asc(devices.userId), asc(devices.createdAt));
		const members = new Map<string, PublicDeviceView[]>(readerIds.map((id) => [id, []]));
		for (const row of rows) {
			const list = members.get(row.userId);
			if (list) list.push(publicView(row));
			else members.set(row.userId, [publicView(row)]);
		}
		return { channelId, members: [...members].map(([userId, devices]) => ({ userId, devices })) };
	}

	/**
	 * Prekey bundles of visible, current devices; unknown, removed or invisible ones are omitted. Each
	 * one-time prekey goes to exactly one claimer: it is picked with FOR UPDATE SKIP LOCKED and
	 * deleted in the same statement, so concurrent claims get different keys (or none).
	 */
	async claim(viewerId: string, deviceIds: string[]): Promise<PrekeyBundle[]> {
		const ids = [...new Set(deviceIds.map((id) => id.toLowerCase()))];
		const rows = await this.#db
			.select({ ...publicColumns, keyId: deviceSignedPrekeys.keyId, publicKey: deviceSignedPrekeys.publicKey, signature: deviceSignedPrekeys.signature })
			.from(devices)
			.innerJoin(deviceSignedPrekeys, eq(deviceSignedPrekeys.deviceId, devices.id))
			.where(and(inArray(devices.id, ids), isNull(devices.revokedAt), sql`${devices.userId} in ${visibleUserIds(viewerId)}`));
		if (rows.length === 0) return [];
		const list = sql.join(rows.map((r) => sql`${r.id}::uuid`), sql`, `);
		const claimed = rowsOf<{ device_id: string; key_id: string | number; public_key: string }>(
			await this.#db.execute(sql`
				delete from ${deviceOneTimePrekeys} o
				using (
					select k.device_id, k.key_id
					from unnest(array[${list}]) as d(id)
					cross join lateral (
						select device_id, key_id from ${deviceOneTimePrekeys}
						where device_id = d.id
						order by key_id
						limit 1
						for update skip locked
					) k
				) pick
				where o.device_id = pick.device_id and o.key_id = pick.key_id
				returning o.device_id, o.key_id, o.public_key`)
		);
		const otks = new Map(claimed.map((c) => [c.device_id, { id: Number(c.key_id), publicKey: c.public_key }]));
		return rows.map((r) => ({
			deviceId: r.id,
			userId: r.userId,
			identityKey: r.identityKey,
			signedPrekey: { id: r.keyId, publicKey: r.publicKey, signature: r.signature },
			oneTimePrekey: otks.get(r.id) ?? null
		}));
	}

	/**
	 * Queues pairwise ciphertext for devices of visible users (404 when any recipient is unknown,
	 * removed or invisible) and pushes it live to the recipients' open sockets after commit.
	 */
	async sendToDevice(userId: string, session: SessionRef, messages: SendToDeviceRequest['messages']): Promise<{ count: number }> {
		const recipients = [...new Set(messages.map((m) => m.deviceId.toLowerCase()))];
		const { inserted, recipientSessions } = await this.#db.transaction(async (tx) => {
			const sender = await this.#currentDevice(tx, session);
			const found = await tx
				.select({ id: devices.id })
				.from(devices)
				.where(and(inArray(devices.id, recipients), isNull(devices.revokedAt), sql`${devices.userId} in ${visibleUserIds(userId)}`));
			if (found.length !== recipients.length) throw notFound('Device');
			const pending = await tx
				.select({ deviceId: toDeviceMessages.recipientDeviceId, n: count() })
				.from(toDeviceMessages)
				.where(inArray(toDeviceMessages.recipientDeviceId, recipients))
				.groupBy(toDeviceMessages.recipientDeviceId);
			const adding = new Map<string, number>();
			for (const m of messages) adding.set(m.deviceId.toLowerCase(), (adding.get(m.deviceId.toLowerCase()) ?? 0) + 1);
			for (const p of pending) {
				if (Number(p.n) + (adding.get(p.deviceId) ?? 0) > TO_DEVICE_QUEUE_MAX) {
					throw new AppError(429, ErrorCode.toDeviceQueueFull, 'A recipient device has too many undelivered messages. Try again later.', 60_000);
				}
			}
			const inserted = await tx
				.insert(toDeviceMessages)
				.values(messages.map((m) => ({ recipientDeviceId: m.deviceId.toLowerCase(), senderUserId: userId, senderDeviceId: sender.id, body: m.body })))
				.returning();
			const recipientSessions = await tx
				.select({ id: sessions.id, deviceId: sessions.deviceId })
				.from(sessions)
				.where(inArray(sessions.deviceId, recipients));
			return { inserted, recipientSessions };
		});
		const byDevice = new Map<string, ToDeviceMessage[]>();
		for (const row of inserted) {
			const list = byDevice.get(row.recipientDeviceId) ?? [];
			list.push(toDeviceView(row));
			byDevice.set(row.recipientDeviceId, list);
		}
		const notices: BusNotice[] = [];
		for (const s of recipientSessions) {
			const list = byDevice.get(s.deviceId!);
			if (list) notices.push({ type: 'to-device', sessionId: s.id, messages: list });
		}
		this.#bus.publish(notices);
		return { count: inserted.length };
	}

	/** The current device's queued messages with id > after, oldest first. */
	async fetchToDevice(session: SessionRef, after: number, limit: number): Promise<ToDeviceMessage[]> {
		const device = await this.#currentDevice(this.#db, session);
		await this.#touch(device);
		const rows = await this.#db
			.select()
			.from(toDeviceMessages)
			.where(and(eq(toDeviceMessages.recipientDeviceId, device.id), gt(toDeviceMessages.id, after)))
			.orderBy(asc(toDeviceMessages.id))
			.limit(limit);
		return rows.map(toDeviceView);
	}

	/** Deletes the current device's queued messages with id <= upTo. */
	async ackToDevice(session: SessionRef, upTo: number): Promise<{ deleted: number }> {
		const device = await this.#currentDevice(this.#db, session);
		const deleted = await this.#db
			.delete(toDeviceMessages)
			.where(and(eq(toDeviceMessages.recipientDeviceId, device.id), lte(toDeviceMessages.id, upTo)))
			.returning({ id: toDeviceMessages.id });
		return { deleted: deleted.length };
	}
}

function toDeviceView(row: typeof toDeviceMessages.$inferSelect): ToDeviceMessage {
	return { id: row.id, senderUserId: row.senderUserId, senderDeviceId: row.senderDeviceId, body: row.body, createdAt: row.createdAt.toISOString() };
}

/** Rows of a raw `execute`: postgres.js returns an array, PGlite an object with `rows`. */
function rowsOf<T>(result: unknown): T[] {
	if (Array.isArray(result)) return result as T[];
	return ((result as { rows?: T[] }).rows ?? []) as T[];
}
