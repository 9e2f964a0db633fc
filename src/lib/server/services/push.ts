// Web Push to browsers that are closed: subscriptions (one per encryption device), the VAPID key
// pair, who hears about what (levels, do-not-disturb), and sending after a message is committed.
//
// Safety: subscriptions may point only at the push services in PUSH_SERVICE_HOSTS (https), so the
// server never makes a request to an address a user chose. Payloads carry the message's own
// ciphertext, padded to one size (shared/push.ts), never plaintext; the push service sees only the
// Web Push encryption of that. Nothing here logs endpoints' keys or payloads.
import { and, eq, gt, inArray } from 'drizzle-orm';
import type { RequestOptions as WebPushRequestOptions } from 'web-push';
import { createHash } from 'node:crypto';
import { effectiveLevel, PUSH_PAYLOAD_BYTES, type NotificationLevel, type NotificationSettingsView, type PushPayload, type PushSubscriptionInput } from '#lib/shared/push.ts';
import type { ChannelEvent } from '#lib/shared/protocol/frames.ts';
import { ErrorCode } from '#lib/shared/protocol/codes.ts';
import type { PushConfig } from '../config/config.ts';
import type { Database } from '../db/open.ts';
import { channels, communityMembers, notificationLevels, notificationQuiet, pushSubscriptions, pushVapidKeys, sessions, userBlocks, users } from '../db/schema.ts';
import type { BusNotice, ChannelScope, EventBus } from '../events/bus.ts';
import { accessChannel, accessCommunity } from '../access.ts';
import { AppError, invalid, notFound } from '../errors.ts';
import { safeError, type Logger } from '../logger.ts';

/** @everyone reaches at most this many people by push (a larger community's members see it in the app). */
const EVERYONE_PUSH_MAX = 2000;
/** A push waits at the push service this long for a browser that is off, then is dropped. */
const PUSH_TTL_SECONDS = 24 * 3600;
/** Pushes in flight at once per message. */
const SEND_CONCURRENCY = 8;

// web-push (with asn1.js and bn.js, ~1.6 MB of heap) is loaded by the first push or VAPID key
// made, once, rather than by every server at start.
const webPush = async () => (await import('web-push')).default;

export type PushSend = (
	subscription: { endpoint: string; keys: { p256dh: string; auth: string } },
	payload: string,
	options: WebPushRequestOptions
) => Promise<{ statusCode: number }>;

/**
 * Sends one push: web-push builds the request (VAPID JWT, aes128gcm encryption, headers) and fetch
 * delivers it, following no redirect (a push service never needs one, and following would let an
 * allowed host send the server elsewhere). Resolves with the status; throws with statusCode when
 * the push service refused it.
 */
export const sendPush: PushSend = async (subscription, payload, options) => {
	const request = (await webPush()).generateRequestDetails(subscription, payload, options);
	const response = await fetch(request.endpoint, {
		method: request.method,
		headers: request.headers as Record<string, string>,
		body: new Uint8Array(request.body as Buffer),
		redirect: 'manual',
		signal: AbortSignal.timeout(options.timeout ?? 10_000)
	});
	await response.arrayBuffer().catch(() => undefined);
	if (response.status < 200 || response.status > 299) throw Object.assign(new Error(`push service answered ${response.status}`), { statusCode: response.status });
	return { statusCode: response.status };
};

/** Whether a subscription endpoint may be used: https to an allowed push service (http on loopback only in tests). */
export function checkPushEndpoint(endpoint: string, config: Pick<PushConfig, 'serviceHosts' | 'allowLoopbackHttp'>): string | null {
	let url: URL;
	try {
		url = new URL(endpoint);
	} catch {
		return 'The push endpoint is not a URL.';
	}
	if (url.username || url.password) return 'The push endpoint must not carry credentials.';
	const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
	if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback && config.allowLoopbackHttp)) return 'The push endpoint must use https.';
	const host = url.host.toLowerCase();
	const hostname = url.hostname.toLowerCase();
	const allowed = config.serviceHosts.some((entry) =>
		entry.startsWith('*.') ? hostname.endsWith(entry.slice(1)) && hostname.length > entry.length - 1 : entry === host || entry === hostname
	);
	return allowed ? null : `Push endpoints must belong to a known push service (${config.serviceHosts.join(', ')}).`;
}

/** The JSON of a push, padded to PUSH_PAYLOAD_BYTES; without the ciphertext when it does not fit. */
export function encodePushPayload(payload: Omit<PushPayload, 'pad'>): string {
	const fits = (p: Omit<PushPayload, 'pad'>) => Buffer.byteLength(JSON.stringify({ ...p, pad: '' })) <= PUSH_PAYLOAD_BYTES;
	const base = fits(payload) ? payload : { ...payload, payload: undefined };
	const bare = JSON.stringify({ ...base, pad: '' });
	return JSON.stringify({ ...base, pad: '.'.repeat(Math.max(0, PUSH_PAYLOAD_BYTES - Buffer.byteLength(bare))) });
}

export class Push {
	#db: Database;
	#config: PushConfig;
	#log: Logger;
	#send: PushSend;
	#vapid: Promise<{ publicKey: string; privateKey: string }> | undefined;
	/** Whether a session has a live /ws connection on this node (then its browser is open: no push). */
	#isSessionOnline: (sessionId: string) => boolean = () => false;
	#bus: EventBus;
	/**
	 * Routing hints kept in memory on every node (loaded at start, kept current by `push.routing`
	 * notices), so a message nobody could get a push for costs no query: users who may have a
	 * subscription (a stale entry costs one query, never a missed push), and who follows every
	 * message of a channel or community.
	 */
	#maySubscribe = new Set<string>();
	#followers = new Map<string, Set<string>>();

	constructor(deps: { db: Database; bus: EventBus; config: PushConfig; log: Logger; send?: PushSend }) {
		this.#db = deps.db;
		this.#bus = deps.bus;
		this.#config = deps.config;
		this.#log = deps.log;
		this.#send = deps.send ?? sendPush;
		deps.bus.subscribe((notice) => {
			if (notice.type === 'push.routing') this.#applyRouting(notice);
		});
	}

	/** Loads the routing hints (once, at start-up). */
	async loadRoutingHints(): Promise<void> {
		const [subscribers, followers] = await Promise.all([
			this.#db.selectDistinct({ userId: pushSubscriptions.userId }).from(pushSubscriptions),
			this.#db.select({ userId: notificationLevels.userId, targetId: notificationLevels.targetId }).from(notificationLevels).where(eq(notificationLevels.level, 'all'))
		]);
		for (const { userId } of subscribers) this.#maySubscribe.add(userId);
		for (const { userId, targetId } of followers) this.#applyRouting({ type: 'push.routing', userId, level: { targetId, level: 'all' } });
	}

	#applyRouting(notice: Extract<BusNotice, { type: 'push.routing' }>): void {
		if (notice.subscribed) this.#maySubscribe.add(notice.userId);
		if (notice.level) {
			const set = this.#followers.get(notice.level.targetId) ?? new Set<string>();
			if (notice.level.level === 'all') set.add(notice.userId);
			else set.delete(notice.userId);
			if (set.size) this.#followers.set(notice.level.targetId, set);
			else this.#followers.delete(notice.level.targetId);
		}
	}

	/** The realtime hub tells which sessions are connected (it is built after the services). */
	useOnlineSessions(isSessionOnline: (sessionId: string) => boolean): void {
		this.#isSessionOnline = isSessionOnline;
	}

	/** The VAPID key pair: from VAPID_*, else the one kept in the database (made on first use). */
	vapid(): Promise<{ publicKey: string; privateKey: string }> {
		this.#vapid ??= (async () => {
			if (this.#config.vapid) return this.#config.vapid;
			const [stored] = await this.#db.select().from(pushVapidKeys).where(eq(pushVapidKeys.id, 1));
			if (stored) return { publicKey: stored.publicKey, privateKey: stored.privateKey };
			const fresh = (await webPush()).generateVAPIDKeys();
			// Two nodes starting at once: the first insert wins and both use it.
			await this.#db.insert(pushVapidKeys).values({ id: 1, ...fresh }).onConflictDoNothing();
			const [kept] = await this.#db.select().from(pushVapidKeys).where(eq(pushVapidKeys.id, 1));
			return { publicKey: kept!.publicKey, privateKey: kept!.privateKey };
		})().catch((error: unknown) => {
			this.#vapid = undefined;
			throw error;
		});
		return this.#vapid;
	}

	async settings(userId: string, deviceId: string | null): Promise<NotificationSettingsView> {
		const [{ publicKey }, subscription, quiet, levels] = await Promise.all([
			this.vapid(),
			deviceId ? this.#db.select({ deviceId: pushSubscriptions.deviceId }).from(pushSubscriptions).where(eq(pushSubscriptions.deviceId, deviceId)) : Promise.resolve([]),
			this.#db.select().from(notificationQuiet).where(and(eq(notificationQuiet.userId, userId), gt(notificationQuiet.until, new Date()))),
			this.#db.select({ targetId: notificationLevels.targetId, level: notificationLevels.level }).from(notificationLevels).where(eq(notificationLevels.userId, userId))
		]);
		return { publicKey, subscribed: subscription.length > 0, quietUntil: quiet[0]?.until.toISOString() ?? null, levels };
	}

	/** Registers (or replaces) this device's push subscription. */
	async subscribe(userId: string, deviceId: string | null, input: PushSubscriptionInput): Promise<void> {
		if (!deviceId) throw new AppError(409, ErrorCode.deviceRequired, 'This browser is not registered as an encryption device yet: push needs one to decrypt messages.');
		const problem = checkPushEndpoint(input.endpoint, this.#config);
		if (problem) throw invalid(problem);
		const values = { userId, endpoint: input.endpoint, p256dh: input.keys.p256dh, auth: input.keys.auth };
		await this.#db
			.insert(pushSubscriptions)
			.values({ deviceId, ...values })
			.onConflictDoUpdate({ target: pushSubscriptions.deviceId, set: values });
		this.#bus.publish([{ type: 'push.routing', userId, subscribed: true }]);
	}

	async unsubscribe(deviceId: string | null): Promise<void> {
		if (deviceId) await this.#db.delete(pushSubscriptions).where(eq(pushSubscriptions.deviceId, deviceId));
	}

	/** Sets (or with null clears) the level of a community or channel the user can see. */
	async setLevel(userId: string, targetId: string, level: NotificationLevel | null): Promise<void> {
		try {
			await accessCommunity(this.#db, userId, targetId);
		} catch {
			try {
				await accessChannel(this.#db, userId, targetId);
			} catch {
				throw notFound('Community or channel');
			}
		}
		if (level === null) {
			await this.#db.delete(notificationLevels).where(and(eq(notificationLevels.userId, userId), eq(notificationLevels.targetId, targetId)));
		} else {
			await this.#db
				.insert(notificationLevels)
				.values({ userId, targetId, level })
				.onConflictDoUpdate({ target: [notificationLevels.userId, notificationLevels.targetId], set: { level } });
		}
		this.#bus.publish([{ type: 'push.routing', userId, level: { targetId, level } }]);
	}

	/** Do not disturb until then (null: off). */
	async setQuiet(userId: string, until: Date | null): Promise<void> {
		if (!until || until.getTime() <= Date.now()) {
			await this.#db.delete(notificationQuiet).where(eq(notificationQuiet.userId, userId));
			return;
		}
		await this.#db.insert(notificationQuiet).values({ userId, until }).onConflictDoUpdate({ target: notificationQuiet.userId, set: { until } });
	}

	/** After a commit: pushes for the new messages among these notices. Never throws, never waits. */
	dispatch(notices: readonly BusNotice[]): void {
		for (const notice of notices) {
			if (notice.type !== 'channel.event' || notice.event.type !== 'message.created') continue;
			void this.#pushMessage(notice.channelId, notice.scope, notice.event).catch((error: unknown) => {
				this.#log.warn({ err: safeError(error), channelId: notice.channelId }, 'push dispatch failed');
			});
		}
	}

	async #pushMessage(channelId: string, scope: ChannelScope, event: Extract<ChannelEvent, { type: 'message.created' }>): Promise<void> {
		const message = event.message;
		const mentions = message.mentions;
		const communityId = scope.kind === 'community' ? scope.communityId : null;
		// Who could want it: DM people; people mentioned; @everyone's members; those who follow
		// everything here. @here names the people online now, whose browsers are open: no push.
		// Only people who may have a subscription count, so most messages cost no query at all.
		const candidates = new Set<string>(scope.kind === 'dm' ? scope.userIds : (mentions?.users ?? []));
		for (const target of communityId ? [channelId, communityId] : [channelId]) for (const userId of this.#followers.get(target) ?? []) candidates.add(userId);
		for (const userId of candidates) if (!this.#maySubscribe.has(userId)) candidates.delete(userId);
		if (communityId && mentions?.everyone && this.#maySubscribe.size > 0) {
			const members = await this.#db
				.select({ userId: communityMembers.userId })
				.from(communityMembers)
				.where(and(eq(communityMembers.communityId, communityId), inArray(communityMembers.userId, [...this.#maySubscribe].slice(0, EVERYONE_PUSH_MAX))));
			for (const m of members) candidates.add(m.userId);
		}
		candidates.delete(message.authorId);
		if (candidates.size === 0) return;

		const ids = [...candidates];
		const [subscriptions, levelRows, quietRows, blockRows] = await Promise.all([
			this.#db
				.select({
					deviceId: pushSubscriptions.deviceId,
					userId: pushSubscriptions.userId,
					endpoint: pushSubscriptions.endpoint,
					p256dh: pushSubscriptions.p256dh,
					auth: pushSubscriptions.auth
				})
				.from(pushSubscriptions)
				.where(inArray(pushSubscriptions.userId, ids)),
			this.#db
				.select({ userId: notificationLevels.userId, targetId: notificationLevels.targetId, level: notificationLevels.level })
				.from(notificationLevels)
				.where(and(inArray(notificationLevels.userId, ids), inArray(notificationLevels.targetId, communityId ? [channelId, communityId] : [channelId]))),
			// Quiet hours, or the presence "do not disturb" (services/profiles.ts): one statement.
			this.#db
				.select({ userId: notificationQuiet.userId })
				.from(notificationQuiet)
				.where(and(inArray(notificationQuiet.userId, ids), gt(notificationQuiet.until, new Date())))
				.unionAll(this.#db.select({ userId: users.id }).from(users).where(and(inArray(users.id, ids), eq(users.presenceChoice, 'dnd')))),
			// Nobody is notified of a message by someone they blocked.
			this.#db.select({ userId: userBlocks.blockerId }).from(userBlocks).where(and(inArray(userBlocks.blockerId, ids), eq(userBlocks.blockedId, message.authorId)))
		]);
		if (subscriptions.length === 0) return;
		// A device's sessions: one with a live socket means its browser is open.
		const sessionRows = await this.#db
			.select({ id: sessions.id, deviceId: sessions.deviceId })
			.from(sessions)
			.where(inArray(sessions.deviceId, subscriptions.map((s) => s.deviceId)));
		const online = new Set(sessionRows.filter((r) => this.#isSessionOnline(r.id)).map((r) => r.deviceId));
		// Do not disturb, or the author is blocked: no push for them.
		const silenced = new Set([...quietRows, ...blockRows].map((r) => r.userId));
		const levelsBy = new Map<string, Map<string, NotificationLevel>>();
		for (const row of levelRows) {
			const map = levelsBy.get(row.userId) ?? new Map<string, NotificationLevel>();
			map.set(row.targetId, row.level);
			levelsBy.set(row.userId, map);
		}
		const wants = (userId: string) => {
			if (silenced.has(userId)) return false;
			const level = effectiveLevel(levelsBy.get(userId) ?? new Map(), channelId, communityId);
			if (level === 'none') return false;
			if (level === 'all' || scope.kind === 'dm') return true;
			// @here is for those online now, whose browsers are open: it pushes nobody.
			return !!mentions?.everyone || (mentions?.users ?? []).includes(userId);
		};
		const targets = subscriptions.filter((s) => wants(s.userId) && !online.has(s.deviceId));
		if (targets.length === 0) return;

		const [place] = await this.#db
			.select({ name: channels.name, authorName: users.displayName })
			.from(channels)
			.innerJoin(users, eq(users.id, message.authorId))
			.where(eq(channels.id, channelId));
		const vapid = await this.vapid();
		// One topic per conversation: a newer push replaces an older one still waiting at the push service.
		const topic = createHash('sha256').update(channelId).digest('base64url').slice(0, 32);
		const queue = [...targets];
		const worker = async () => {
			for (let target = queue.shift(); target; target = queue.shift()) {
				const body = encodePushPayload({
					v: 1,
					userId: target.userId,
					channelId,
					communityId,
					place: scope.kind === 'dm' ? (place?.authorName ?? 'a direct message') : `#${place?.name ?? 'channel'}`,
					authorId: message.authorId,
					authorName: place?.authorName ?? 'Someone',
					messageId: message.id,
					seq: message.seq,
					createdAt: message.createdAt,
					payload: message.payload,
					...(mentions ? { mentions } : {})
				});
				try {
					await this.#send({ endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } }, body, {
						vapidDetails: { subject: this.#config.subject, publicKey: vapid.publicKey, privateKey: vapid.privateKey },
						TTL: PUSH_TTL_SECONDS,
						urgency: 'high',
						topic,
						contentEncoding: 'aes128gcm',
						timeout: 10_000
					});
					await this.#db.update(pushSubscriptions).set({ lastPushAt: new Date() }).where(eq(pushSubscriptions.deviceId, target.deviceId));
				} catch (error) {
					const status = (error as { statusCode?: number }).statusCode;
					// Gone for good at the push service (unsubscribed, expired): forget it.
					if (status === 404 || status === 410) await this.#db.delete(pushSubscriptions).where(eq(pushSubscriptions.deviceId, target.deviceId));
					else this.#log.warn({ status, deviceId: target.deviceId, err: safeError(error) }, 'push not accepted by the push service');
				}
			}
		};
		await Promise.all(Array.from({ length: Math.min(SEND_CONCURRENCY, queue.length) }, worker));
	}
}
