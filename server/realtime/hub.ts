// The realtime hub: which connections exist, what each is subscribed to, and delivery of committed
// events to them. Subscriptions are per community (every channel of a community has the same
// audience) and per DM channel, so fan-out is one map lookup and one pre-serialised frame sent to
// each subscriber.
import DataLoader from 'dataloader';
import { eq, sql } from 'drizzle-orm';
import { CloseCode } from '#lib/shared/protocol/codes.ts';
import type { PresenceStatus, ServerFrame } from '#lib/shared/protocol/frames.ts';
import { presenceFrame } from '#lib/shared/protocol/presence-frame.ts';
import type { PresenceChoice } from '#lib/shared/profile.ts';
import type { AppContext, RealtimeStatus } from '#lib/server/context.ts';
import type { BusNotice, NodePresence } from '#lib/server/events/bus.ts';
import { anyOf } from '#lib/server/db/built-once.ts';
import { channels, communityMembers, dmParticipants } from '#lib/server/db/schema.ts';
import { safeError } from '#lib/server/logger.ts';
import { sharedFrame, type Connection, type SharedFrame } from './connection.ts';
import { batchWindow } from './batch-window.ts';
import { loadConnectionFacts } from './connection-facts.ts';
import { RemotePresence, type PresenceScopes } from './remote-presence.ts';
import { strongerPresence } from './presence-rank.ts';

type Scope = { kind: 'community'; id: string } | { kind: 'dm'; id: string };
type ScopeStatement = { execute(values: { userIds: string[] }): Promise<Array<{ kind: string; userId: string; id: string }>> };

// Presence changes are collected and sent in batches: during a reconnect storm of N clients this
// sends O(N) frames per interval instead of O(N²) single-user frames.
const PRESENCE_FLUSH_MS = 500;
// Each flush costs one frame (one write) per subscriber of every scope with a change. When a flush
// reaches many sockets (a reconnect storm: everyone comes back at once) the next one waits longer,
// so a storm of N reconnections costs a few N frames rather than N per half second. Presence is
// late by at most this much while it lasts.
const PRESENCE_FLUSH_SLOW_MS = 2_000;
const PRESENCE_BUSY_FRAMES = 2_000;
// Channel → community lookups for typing indicators; channels never change community.
const CHANNEL_SCOPE_CACHE_MAX = 50_000;
// Users whose subscriptions load in one pair of statements (see #scopesOfUsers).
const REGISTER_BATCH_MAX = 500;
// While sockets keep registering, a subscription load waits this long after the previous one
// (see batch-window.ts), so that it serves many of them.
const REGISTER_BATCH_WINDOW_MS = 5;

export class Hub implements RealtimeStatus {
	#app: AppContext;
	#connections = new Map<string, Connection>();
	#byUser = new Map<string, Set<Connection>>();
	#bySession = new Map<string, Set<Connection>>();
	#byIp = new Map<string, number>();
	#communitySubs = new Map<string, Set<Connection>>();
	#dmSubs = new Map<string, Set<Connection>>();
	/** Scopes of users whose presence others see, kept after their last connection closes (to announce "offline"). */
	#userScopes = new Map<string, { communities: readonly string[]; dms: readonly string[] }>();
	#channelScope = new Map<string, Scope>();
	#presenceDirty = new Set<string>();
	/** Cluster mode: this node's instance id, users whose presence on this node changed (to announce), and the others' users. */
	#nodeId: string | null;
	#localPresenceDirty = new Set<string>();
	#remote = new RemotePresence();
	/** Scopes of remote users whose presence changed, until the next flush announces it. */
	#remoteChanged = new Map<string, PresenceScopes>();
	#presenceTimer: NodeJS.Timeout | undefined;
	#presenceFlushMs = PRESENCE_FLUSH_MS;
	/** The presence each user with a socket here chose (auto, idle, dnd, invisible); absent: auto. */
	#choices = new Map<string, PresenceChoice>();
	/**
	 * Each community's presence snapshot frame as of the last presence flush, built on first use.
	 * Everything that changes presence waits for the next flush, which goes to every subscriber of
	 * the scope, so "this snapshot, then the flushes" is exact for a socket subscribed now; and a
	 * reconnect storm into a large community serialises its snapshot once per flush, not once per
	 * socket (it grows with the community: 5,000 online members are ~270 kB).
	 */
	#communitySnapshots = new Map<string, SharedFrame | null>();
	/** Connections whose subscriptions are being loaded, with scopes removed meanwhile. */
	#registering = new Map<Connection, Set<string>>();
	#unsubscribe: () => void;
	/**
	 * The communities and DMs of users whose sockets register in the same turn of the event loop,
	 * loaded together: a reconnect storm costs two statements per batch instead of two per socket.
	 */
	#scopesOfUsers: DataLoader<string, { communities: string[]; dms: string[] }>;
	#scopesOfUsersStatement: ScopeStatement | undefined;

	constructor(app: AppContext) {
		this.#app = app;
		this.#scopesOfUsers = new DataLoader((userIds) => this.#loadScopes(userIds), {
			cache: false,
			batchScheduleFn: batchWindow(REGISTER_BATCH_WINDOW_MS),
			maxBatchSize: REGISTER_BATCH_MAX
		});
		this.#nodeId = app.cluster?.instanceId ?? null;
		this.#mirrorAllCounts(); // a restarted node with the same NODE_ID starts from zero
		this.#unsubscribe = app.bus.subscribe((notice) => this.#onNotice(notice));
		// A browser with an open socket here shows its own notifications: no push to it.
		app.services.push.useOnlineSessions((sessionId) => this.#bySession.has(sessionId));
	}

	connections(): number {
		return this.#connections.size;
	}

	onlineUsers(): number {
		return this.#byUser.size;
	}

	/**
	 * Cluster mode: open sockets of this account and from this address on the other nodes, for
	 * admissionCheck (asked before the upgrade: it is a Redis round trip). Zero on a single node.
	 */
	async countsElsewhere(ip: string, userId: string): Promise<{ ip: number; user: number }> {
		return this.#app.cluster ? this.#app.cluster.connectionCounts.elsewhere(userId, ip) : { ip: 0, user: 0 };
	}

	/**
	 * Why a new connection cannot be admitted (the close code to use), or null. The per-address and
	 * per-account caps add the other nodes' sockets in cluster mode; the global cap is this process's.
	 * Synchronous with register(), so simultaneous upgrades cannot both take the last local place.
	 */
	admissionCheck(ip: string, userId: string, elsewhere = { ip: 0, user: 0 }): { code: number; reason: string } | null {
		const limits = this.#app.config.limits;
		if (this.#connections.size >= limits.wsMaxConnections) return { code: CloseCode.tooManyConnections, reason: 'server connection limit reached' };
		if ((this.#byIp.get(ip) ?? 0) + elsewhere.ip >= limits.wsMaxConnectionsPerIp) return { code: CloseCode.tooManyConnections, reason: 'too many connections from this address' };
		if ((this.#byUser.get(userId)?.size ?? 0) + elsewhere.user >= limits.wsMaxConnectionsPerUser) return { code: CloseCode.tooManyConnections, reason: 'too many connections for this account' };
		return null;
	}

	/** Adds a connection: indexes it, loads its subscriptions, sends `ready` and a presence snapshot. */
	async register(conn: Connection): Promise<void> {
		this.#connections.set(conn.id, conn);
		// The choice read with the session; a user already here keeps the one notices kept current.
		if (!this.#byUser.has(conn.userId)) {
			if (conn.presenceChoice === 'auto') this.#choices.delete(conn.userId);
			else this.#choices.set(conn.userId, conn.presenceChoice);
		}
		addTo(this.#byUser, conn.userId, conn);
		addTo(this.#bySession, conn.sessionId, conn);
		this.#byIp.set(conn.ip, (this.#byIp.get(conn.ip) ?? 0) + 1);
		this.#mirrorCounts(conn);
		this.#registering.set(conn, new Set());
		try {
			const { communities, dms } = await this.#scopesOfUsers.load(conn.userId);
			const removed = this.#registering.get(conn)!;
			if (conn.closed) return;
			for (const id of communities) if (!removed.has(`community:${id}`)) this.#subscribe(conn, { kind: 'community', id });
			for (const id of dms) if (!removed.has(`dm:${id}`)) this.#subscribe(conn, { kind: 'dm', id });
		} finally {
			this.#registering.delete(conn);
		}
		const limits = this.#app.config.limits;
		conn.send({
			t: 'ready',
			userId: conn.userId,
			connectionId: conn.id,
			heartbeatMs: limits.heartbeatMs,
			limits: {
				messageMaxBytes: this.#app.services.instance.messageMaxBytes(),
				maxFrameBytes: limits.wsMaxFrameBytes,
				uploadMaxBytes: this.#app.services.instance.uploadMaxBytes()
			}
		});
		this.#rememberScopes(conn.userId);
		this.#sendPresenceSnapshot(conn);
		this.#markPresence(conn.userId);
	}

	unregister(conn: Connection): void {
		if (!this.#connections.delete(conn.id)) return;
		removeFrom(this.#byUser, conn.userId, conn);
		removeFrom(this.#bySession, conn.sessionId, conn);
		const perIp = (this.#byIp.get(conn.ip) ?? 1) - 1;
		if (perIp <= 0) this.#byIp.delete(conn.ip);
		else this.#byIp.set(conn.ip, perIp);
		this.#mirrorCounts(conn);
		for (const id of conn.communities) removeFrom(this.#communitySubs, id, conn);
		for (const id of conn.dms) removeFrom(this.#dmSubs, id, conn);
		this.#registering.delete(conn);
		this.#markPresence(conn.userId);
	}

	async #loadScopes(userIds: readonly string[]): Promise<Array<{ communities: string[]; dms: string[] }>> {
		const unique = [...new Set(userIds)];
		// Communities and DMs in one statement, built once: the users travel as one array parameter,
		// so one user (a socket alone) and a batch (a reconnect storm) run the same prepared text.
		this.#scopesOfUsersStatement ??= this.#prepareScopesOfUsers();
		const rows = await this.#scopesOfUsersStatement.execute({ userIds: unique });
		const scopes = new Map(unique.map((userId) => [userId, { communities: [] as string[], dms: [] as string[] }]));
		for (const row of rows) {
			const scope = scopes.get(row.userId)!;
			if (row.kind === 'community') scope.communities.push(row.id);
			else scope.dms.push(row.id);
		}
		return userIds.map((userId) => scopes.get(userId)!);
	}

	#prepareScopesOfUsers(): ScopeStatement {
		const db = this.#app.database.db;
		return db
			.select({ kind: sql<string>`'community'`.as('kind'), userId: communityMembers.userId, id: communityMembers.communityId })
			.from(communityMembers)
			.where(anyOf(communityMembers.userId, 'userIds'))
			.unionAll(
				db
					.select({ kind: sql<string>`'dm'`.as('kind'), userId: dmParticipants.userId, id: dmParticipants.channelId })
					.from(dmParticipants)
					.where(anyOf(dmParticipants.userId, 'userIds'))
			)
			.prepare('scopes_of_users');
	}

	/** Cluster mode: the other nodes count this node's sockets of that account and address. */
	#mirrorCounts(conn: Connection) {
		this.#app.cluster?.connectionCounts.mirror(conn.userId, this.#byUser.get(conn.userId)?.size ?? 0, conn.ip, this.#byIp.get(conn.ip) ?? 0);
	}

	#mirrorAllCounts() {
		this.#app.cluster?.connectionCounts.mirrorAll(new Map([...this.#byUser].map(([userId, conns]) => [userId, conns.size])), this.#byIp);
	}

	setStatus(conn: Connection, status: 'online' | 'idle'): void {
		if (conn.status === status) return;
		conn.status = status;
		this.#markPresence(conn.userId);
	}

	/** Relays "typing" to the channel's other members, if the sender can see the channel. */
	async typing(conn: Connection, channelId: string): Promise<boolean> {
		const scope = await this.#scopeOfChannel(channelId);
		if (!scope) return false;
		const subscribed = scope.kind === 'community' ? conn.communities.has(scope.id) : conn.dms.has(scope.id);
		if (!subscribed) return false;
		// Through the bus, so the channel's members on other nodes see it too (see #onNotice).
		this.#app.bus.publish([{ type: 'typing', channelId, communityId: scope.kind === 'community' ? scope.id : null, userId: conn.userId }]);
		return true;
	}

	/** Tells every client to reconnect shortly (spread over a few seconds) and closes the sockets. */
	shutdown(): void {
		this.#unsubscribe();
		clearTimeout(this.#presenceTimer);
		for (const conn of this.#connections.values()) {
			conn.send({ t: 'reconnect', afterMs: 500 + Math.floor(Math.random() * 2500) });
			conn.close(CloseCode.goingAway, 'server restarting');
		}
	}

	// ------------------------------------------------------------------------------------------

	#subscribe(conn: Connection, scope: Scope) {
		if (scope.kind === 'community') {
			conn.communities.add(scope.id);
			addTo(this.#communitySubs, scope.id, conn);
		} else {
			conn.dms.add(scope.id);
			addTo(this.#dmSubs, scope.id, conn);
			this.#cacheScope(scope.id, scope);
		}
	}

	#unsubscribeScope(conn: Connection, scope: Scope) {
		this.#registering.get(conn)?.add(`${scope.kind}:${scope.id}`);
		if (scope.kind === 'community') {
			conn.communities.delete(scope.id);
			removeFrom(this.#communitySubs, scope.id, conn);
			// Someone who left (or was removed) is not shown to the members connecting next.
			this.#communitySnapshots.delete(scope.id);
		} else {
			conn.dms.delete(scope.id);
			removeFrom(this.#dmSubs, scope.id, conn);
		}
	}

	#subscribers(scope: Scope): Iterable<Connection> {
		return (scope.kind === 'community' ? this.#communitySubs.get(scope.id) : this.#dmSubs.get(scope.id)) ?? [];
	}

	/** Sends the frame to every subscriber of the scope; returns how many that was. */
	#broadcast(scope: Scope, frame: ServerFrame): number {
		const subscribers = scope.kind === 'community' ? this.#communitySubs.get(scope.id) : this.#dmSubs.get(scope.id);
		if (!subscribers || subscribers.size === 0) return 0;
		const shared = sharedFrame(frame);
		for (const conn of subscribers) conn.sendRaw(shared);
		return subscribers.size;
	}

	#toUser(userId: string, frame: ServerFrame) {
		const conns = this.#byUser.get(userId);
		if (!conns) return;
		const text = JSON.stringify(frame);
		for (const conn of conns) conn.sendRaw(text);
	}

	#onNotice(notice: BusNotice) {
		switch (notice.type) {
			case 'channel.event': {
				const scope: Scope =
					notice.scope.kind === 'community' ? { kind: 'community', id: notice.scope.communityId } : { kind: 'dm', id: notice.channelId };
				this.#cacheScope(notice.channelId, scope);
				this.#broadcast(scope, { t: 'event', channelId: notice.channelId, event: notice.event });
				return;
			}
			case 'read':
				this.#toUser(notice.userId, { t: 'read', channelId: notice.channelId, seq: notice.seq });
				return;
			case 'thread.mark':
				this.#toUser(notice.userId, { t: 'thread.mark', channelId: notice.channelId, rootId: notice.rootId, following: notice.following, lastReadSeq: notice.lastReadSeq });
				return;
			case 'membership': {
				const scope: Scope = { kind: 'community', id: notice.communityId };
				for (const conn of this.#byUser.get(notice.userId) ?? []) {
					if (notice.change === 'joined') this.#subscribe(conn, scope);
					else this.#unsubscribeScope(conn, scope);
				}
				this.#toUser(notice.userId, {
					t: 'directory.changed',
					communityId: notice.communityId,
					reason: notice.change === 'joined' ? 'community.joined' : 'community.left'
				});
				if (notice.change === 'joined') {
					for (const conn of this.#byUser.get(notice.userId) ?? []) this.#sendPresenceSnapshot(conn, [notice.communityId]);
				}
				this.#rememberScopes(notice.userId);
				this.#markPresence(notice.userId);
				return;
			}
			case 'community.updated':
				this.#broadcast({ kind: 'community', id: notice.communityId }, { t: 'directory.changed', communityId: notice.communityId, reason: 'community.updated' });
				return;
			case 'community.deleted': {
				const scope: Scope = { kind: 'community', id: notice.communityId };
				for (const conn of [...(this.#communitySubs.get(notice.communityId) ?? [])]) this.#unsubscribeScope(conn, scope);
				for (const userId of notice.memberIds) {
					this.#toUser(userId, { t: 'directory.changed', communityId: notice.communityId, reason: 'community.left' });
					this.#rememberScopes(userId);
				}
				return;
			}
			case 'channel.changed':
				this.#cacheScope(notice.channelId, { kind: 'community', id: notice.communityId });
				this.#broadcast(
					{ kind: 'community', id: notice.communityId },
					{ t: 'directory.changed', communityId: notice.communityId, reason: notice.change === 'created' ? 'channel.created' : 'channel.updated' }
				);
				return;
			case 'dm.created':
				for (const userId of notice.userIds) {
					for (const conn of this.#byUser.get(userId) ?? []) this.#subscribe(conn, { kind: 'dm', id: notice.channelId });
					this.#toUser(userId, { t: 'directory.changed', communityId: null, reason: 'dm.created' });
					this.#rememberScopes(userId);
				}
				return;
			case 'sessions.revoked':
				for (const sessionId of notice.sessionIds) {
					for (const conn of [...(this.#bySession.get(sessionId) ?? [])]) conn.close(CloseCode.sessionRevoked, 'session revoked');
				}
				return;
			case 'devices.changed': {
				// Once per connection even when it shares several scopes with the user.
				const frame = sharedFrame({ t: 'devices.changed', userId: notice.userId });
				const targets = new Set<Connection>(this.#byUser.get(notice.userId) ?? []);
				for (const id of notice.communityIds) for (const conn of this.#subscribers({ kind: 'community', id })) targets.add(conn);
				for (const id of notice.dmChannelIds) for (const conn of this.#subscribers({ kind: 'dm', id })) targets.add(conn);
				for (const conn of targets) conn.sendRaw(frame);
				return;
			}
			case 'to-device': {
				const conns = this.#bySession.get(notice.sessionId);
				if (!conns) return;
				const text = JSON.stringify({ t: 'to-device', messages: notice.messages } satisfies ServerFrame);
				for (const conn of conns) conn.sendRaw(text);
				return;
			}
			case 'typing': {
				const scope: Scope = notice.communityId ? { kind: 'community', id: notice.communityId } : { kind: 'dm', id: notice.channelId };
				const frame = sharedFrame({ t: 'typing', channelId: notice.channelId, userId: notice.userId });
				for (const target of this.#subscribers(scope)) if (target.userId !== notice.userId) target.sendRaw(frame);
				return;
			}
			case 'channel.resync': {
				const scope: Scope =
					notice.scope.kind === 'community' ? { kind: 'community', id: notice.scope.communityId } : { kind: 'dm', id: notice.channelId };
				this.#broadcast(scope, { t: 'resync', channelId: notice.channelId, lastSeq: notice.lastSeq });
				return;
			}
			case 'notices.missed':
				void this.#recheckConnections(notice.reason);
				// Presence travels by pub/sub, which replays nothing: the peers get this node's whole state;
				// the connection counts in Redis may be gone (a restart): written again in full.
				this.#announceAllPresence(true);
				this.#mirrorAllCounts();
				return;
			case 'presence':
				if (notice.nodeId === this.#nodeId) return;
				this.#remotePresenceChanged(this.#remote.apply(notice.nodeId, notice.users, notice.full));
				if (notice.ask) this.#announceAllPresence();
				return;
			case 'node.joined':
				this.#announceAllPresence();
				return;
			case 'node.left':
				this.#remotePresenceChanged(this.#remote.dropNode(notice.nodeId));
				return;
			case 'presence.chosen':
				if (!this.#byUser.has(notice.userId)) return;
				if (notice.choice === 'auto') this.#choices.delete(notice.userId);
				else this.#choices.set(notice.userId, notice.choice);
				this.#toUser(notice.userId, { t: 'presence.chosen', choice: notice.choice });
				this.#markPresence(notice.userId);
				return;
			case 'user.updated':
				for (const id of notice.communityIds) {
					this.#broadcast({ kind: 'community', id }, { t: 'directory.changed', communityId: id, reason: 'user.updated' });
				}
				for (const id of notice.dmChannelIds) {
					this.#broadcast({ kind: 'dm', id }, { t: 'directory.changed', communityId: null, reason: 'user.updated' });
				}
				return;
		}
	}

	/**
	 * After notices may have been lost (cluster mode: Redis was away, a peer died between commit and
	 * publish), brings the sockets back in line with the database: connections whose session ended
	 * are closed, and subscriptions follow the memberships as they are now.
	 */
	async #recheckConnections(reason: string) {
		const conns = [...this.#connections.values()].filter((conn) => !this.#registering.has(conn));
		if (conns.length === 0) return;
		const started = performance.now();
		try {
			const { liveSessions, communitiesOf, dmsOf } = await loadConnectionFacts(
				this.#app.database.db,
				[...new Set(conns.map((conn) => conn.sessionId))],
				[...new Set(conns.map((conn) => conn.userId))]
			);
			let closed = 0;
			let changed = 0;
			for (const conn of conns) {
				if (conn.closed) continue;
				if (!liveSessions.has(conn.sessionId)) {
					conn.close(CloseCode.sessionRevoked, 'session revoked');
					closed += 1;
					continue;
				}
				const communities = communitiesOf.get(conn.userId) ?? new Set<string>();
				const dms = dmsOf.get(conn.userId) ?? new Set<string>();
				for (const id of [...conn.communities]) {
					if (communities.has(id)) continue;
					this.#unsubscribeScope(conn, { kind: 'community', id });
					conn.send({ t: 'directory.changed', communityId: id, reason: 'community.left' });
					changed += 1;
				}
				for (const id of communities) {
					if (conn.communities.has(id)) continue;
					this.#subscribe(conn, { kind: 'community', id });
					conn.send({ t: 'directory.changed', communityId: id, reason: 'community.joined' });
					changed += 1;
				}
				for (const id of [...conn.dms]) if (!dms.has(id)) this.#unsubscribeScope(conn, { kind: 'dm', id });
				for (const id of dms) {
					if (conn.dms.has(id)) continue;
					this.#subscribe(conn, { kind: 'dm', id });
					conn.send({ t: 'directory.changed', communityId: null, reason: 'dm.created' });
					changed += 1;
				}
			}
			for (const userId of new Set(conns.map((conn) => conn.userId))) this.#rememberScopes(userId);
			this.#app.log.info({ reason, connections: conns.length, closed, changed, ms: Math.round(performance.now() - started) }, 're-checked connections after missed notices');
		} catch (error) {
			this.#app.log.error({ err: safeError(error), reason }, 're-checking connections failed');
		}
	}

	async #scopeOfChannel(channelId: string): Promise<Scope | null> {
		const cached = this.#channelScope.get(channelId);
		if (cached) return cached;
		try {
			const [row] = await this.#app.database.db
				.select({ communityId: channels.communityId })
				.from(channels)
				.where(eq(channels.id, channelId));
			if (!row) return null;
			const scope: Scope = row.communityId ? { kind: 'community', id: row.communityId } : { kind: 'dm', id: channelId };
			this.#cacheScope(channelId, scope);
			return scope;
		} catch (error) {
			this.#app.log.warn({ err: safeError(error) }, 'channel lookup failed');
			return null;
		}
	}

	#cacheScope(channelId: string, scope: Scope) {
		if (this.#channelScope.has(channelId)) return;
		if (this.#channelScope.size >= CHANNEL_SCOPE_CACHE_MAX) this.#channelScope.delete(this.#channelScope.keys().next().value!);
		this.#channelScope.set(channelId, scope);
	}

	// --- presence --------------------------------------------------------------------------------

	/** What others see, over all nodes: the "most present" of this node's and the others' (see PRESENCE_RANK). */
	#statusOf(userId: string): PresenceStatus {
		const local = this.#localStatusOf(userId);
		if (this.#nodeId === null) return local;
		return strongerPresence(local, this.#remote.statusOf(userId));
	}

	/** What others see of this user's sockets here: their activity, then the user's choice over it. */
	#localStatusOf(userId: string): PresenceStatus {
		const connected = this.#connectedStatusOf(userId);
		if (connected === 'offline') return 'offline';
		switch (this.#choices.get(userId) ?? 'auto') {
			case 'invisible':
				return 'offline';
			case 'dnd':
				return 'dnd';
			case 'idle':
				return 'idle';
			case 'auto':
				return connected;
		}
	}

	/** Whether this user has sockets here and whether any is active, whatever the user chose to show. */
	#connectedStatusOf(userId: string): 'online' | 'idle' | 'offline' {
		const conns = this.#byUser.get(userId);
		if (!conns || conns.size === 0) return 'offline';
		for (const conn of conns) if (conn.status === 'online') return 'online';
		return 'idle';
	}

	#rememberScopes(userId: string) {
		const conns = this.#byUser.get(userId);
		if (!conns || conns.size === 0) return;
		const first = conns.values().next().value!;
		// Arrays, not sets: only ever iterated, and a set costs every online user ~0.15 kB more.
		this.#userScopes.set(userId, { communities: idsOf(first.communities), dms: idsOf(first.dms) });
	}

	#markPresence(userId: string) {
		if (this.#nodeId !== null) this.#localPresenceDirty.add(userId);
		this.#presenceDirty.add(userId);
		this.#presenceTimer ??= setTimeout(() => this.#flushPresence(), this.#presenceFlushMs);
	}

	#remotePresenceChanged(changes: Array<{ userId: string; scopes: PresenceScopes }>) {
		for (const { userId, scopes } of changes) {
			const known = this.#remoteChanged.get(userId);
			if (known) {
				for (const id of scopes.communities) known.communities.add(id);
				for (const id of scopes.dms) known.dms.add(id);
			} else this.#remoteChanged.set(userId, scopes);
			this.#presenceDirty.add(userId);
		}
		if (changes.length > 0) this.#presenceTimer ??= setTimeout(() => this.#flushPresence(), this.#presenceFlushMs);
	}

	#flushPresence() {
		this.#presenceTimer = undefined;
		this.#communitySnapshots.clear();
		if (this.#localPresenceDirty.size > 0) {
			this.#announcePresence([...this.#localPresenceDirty], false);
			this.#localPresenceDirty.clear();
		}
		const byScope = new Map<string, { scope: Scope; users: Array<[string, PresenceStatus]> }>();
		for (const userId of this.#presenceDirty) {
			const local = this.#userScopes.get(userId);
			const remote = this.#remoteChanged.get(userId);
			if (!local && !remote) continue;
			const entry: [string, PresenceStatus] = [userId, this.#statusOf(userId)];
			const communities = new Set([...(local?.communities ?? []), ...(remote?.communities ?? [])]);
			const dms = new Set([...(local?.dms ?? []), ...(remote?.dms ?? [])]);
			for (const id of communities) pushScope(byScope, { kind: 'community', id }, entry);
			for (const id of dms) pushScope(byScope, { kind: 'dm', id }, entry);
			if (this.#connectedStatusOf(userId) === 'offline') {
				this.#userScopes.delete(userId);
				this.#choices.delete(userId);
			}
		}
		this.#presenceDirty.clear();
		this.#remoteChanged.clear();
		let frames = 0;
		for (const { scope, users } of byScope.values()) frames += this.#broadcast(scope, presenceFrame(users));
		this.#presenceFlushMs = frames > PRESENCE_BUSY_FRAMES ? PRESENCE_FLUSH_SLOW_MS : PRESENCE_FLUSH_MS;
	}

	/** Cluster mode: tells the other nodes how these users are on this node (and who may see it). */
	#announcePresence(userIds: string[], full: boolean, ask = false) {
		if (this.#nodeId === null) return;
		const users: NodePresence[] = userIds.map((userId) => {
			const status = this.#localStatusOf(userId);
			const scopes = status === 'offline' ? undefined : this.#userScopes.get(userId);
			return { userId, status, communityIds: [...(scopes?.communities ?? [])], dmChannelIds: [...(scopes?.dms ?? [])] };
		});
		if (users.length > 0 || full) this.#app.bus.publish([{ type: 'presence', nodeId: this.#nodeId, full, users, ...(ask ? { ask } : {}) }]);
	}

	/**
	 * Every user with a socket here, replacing what the peers knew of this node (a peer joined, or
	 * pub/sub was down); `ask` has the peers answer with theirs (this node may have missed changes).
	 */
	#announceAllPresence(ask = false) {
		this.#announcePresence([...this.#byUser.keys()], true, ask);
	}

	#sendPresenceSnapshot(conn: Connection, communityIds: Iterable<string> = conn.communities) {
		for (const id of communityIds) {
			const snapshot = this.#communitySnapshot(id);
			if (snapshot) conn.sendRaw(snapshot);
		}
		if (communityIds !== conn.communities) return;
		// A person's DMs are few and differ per person: built per socket.
		const seen = new Map<string, PresenceStatus>();
		for (const id of conn.dms) {
			for (const other of this.#dmSubs.get(id) ?? []) if (!seen.has(other.userId)) seen.set(other.userId, this.#statusOf(other.userId));
			for (const userId of this.#remote.usersIn('dm', id)) if (!seen.has(userId)) seen.set(userId, this.#statusOf(userId));
		}
		if (seen.size > 0) conn.send(presenceFrame(seen));
	}

	/** Who is online in a community (on this node and the others), as one `presence` frame; null when nobody. */
	#communitySnapshot(communityId: string): SharedFrame | null {
		const cached = this.#communitySnapshots.get(communityId);
		if (cached !== undefined) return cached;
		const seen = new Map<string, PresenceStatus>();
		for (const other of this.#communitySubs.get(communityId) ?? []) if (!seen.has(other.userId)) seen.set(other.userId, this.#statusOf(other.userId));
		for (const userId of this.#remote.usersIn('community', communityId)) if (!seen.has(userId)) seen.set(userId, this.#statusOf(userId));
		const snapshot = seen.size > 0 ? sharedFrame(presenceFrame(seen)) : null;
		this.#communitySnapshots.set(communityId, snapshot);
		return snapshot;
	}
}

const NO_IDS: readonly string[] = Object.freeze([]);

function idsOf(ids: ReadonlySet<string>): readonly string[] {
	return ids.size === 0 ? NO_IDS : [...ids];
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V) {
	const set = map.get(key);
	if (set) set.add(value);
	else map.set(key, new Set([value]));
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V) {
	const set = map.get(key);
	if (!set) return;
	set.delete(value);
	if (set.size === 0) map.delete(key);
}

function pushScope(byScope: Map<string, { scope: Scope; users: Array<[string, PresenceStatus]> }>, scope: Scope, entry: [string, PresenceStatus]) {
	const key = `${scope.kind}:${scope.id}`;
	const bucket = byScope.get(key);
	if (bucket) bucket.users.push(entry);
	else byScope.set(key, { scope, users: [entry] });
}
