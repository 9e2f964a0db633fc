// Accounts and sessions: sign-up (with registration modes and invites), sign-in (throttled),
// session validation with sliding expiry, listing and revoking sessions, password changes.
import { and, asc, eq, inArray, ne, sql, type SQL } from 'drizzle-orm';
import type { Me, SessionView } from '#lib/shared/api-types.ts';
import type { PresenceChoice } from '#lib/shared/profile.ts';
import type { Database, Executor } from '../db/open.ts';
import { anyOf } from '../db/built-once.ts';
import { communityMembers, dmParticipants, instanceSettings, sessions, users } from '../db/schema.ts';
import type { EventBus } from '../events/bus.ts';
import { conflict, forbidden, invalid, rateLimited, unauthenticated } from '../errors.ts';
import { hashPassword, verifyAgainstDummy, verifyPassword } from '../auth/password.ts';
import { SignInThrottle, WindowLimiter } from '../auth/throttle.ts';
import { MemoryRateLimitStore, type RateLimitStore } from '../rate-limiters.ts';
import { checkOwnPassword } from '../auth/reauth.ts';
import { generateToken, sessionIdFromToken } from '../auth/tokens.ts';
import { recordRedemption, type Invites } from './invites.ts';
import type { Communities } from './communities.ts';
import { revokeDevicesOfSessions } from './devices.ts';
import type { SecondFactorProof, SecondFactorResult, TwoFactor } from './two-factor.ts';
import type { Passkeys } from './passkeys.ts';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';

export type SessionUser = Me;
export type SessionRecord = typeof sessions.$inferSelect;
export type RequestMeta = { ip: string; userAgent: string };
export type IssuedSession = { token: string; expiresAt: Date; sessionId: string };

// lastSeenAt is written at most this often per session, so validating a session is a read, not a write.
const LAST_SEEN_RESOLUTION_MS = 5 * 60_000;
const USER_AGENT_MAX = 300;

/** The user columns a session check reads: who it is (Me), whether the account may still sign in, and its presence choice. */
const sessionUser = {
	id: users.id,
	username: users.username,
	displayName: users.displayName,
	instanceRole: users.instanceRole,
	createdAt: users.createdAt,
	isGuest: users.isGuest,
	twoFactorEnabledAt: users.twoFactorEnabledAt,
	disabledAt: users.disabledAt,
	presenceChoice: users.presenceChoice
};

export function toMe(row: Pick<typeof users.$inferSelect, 'id' | 'username' | 'displayName' | 'instanceRole' | 'createdAt' | 'isGuest' | 'twoFactorEnabledAt'>): Me {
	return {
		id: row.id,
		username: row.username,
		displayName: row.displayName,
		instanceRole: row.instanceRole,
		createdAt: row.createdAt.toISOString(),
		guest: row.isGuest,
		twoFactor: row.twoFactorEnabledAt !== null
	};
}

export const GUEST_ACCESS_OFF = 'Guest access is off on this server.';

// One statement for one session (a request) and for many (the /ws upgrades of a few milliseconds):
// the ids travel as one array parameter, so the text never changes with their number (drizzle's
// `in ($1, …, $n)` is built parameter by parameter, and each n is a statement of its own for the
// database to plan). Only the user columns the check reads: the rest (password hash, profile) would
// be parsed for every socket of a reconnect storm for nothing.
function sessionsByIdsStatement(db: Database) {
	return db
		.select({ session: sessions, user: sessionUser })
		.from(sessions)
		.innerJoin(users, eq(users.id, sessions.userId))
		.where(anyOf(sessions.id, 'ids'))
		.prepare('sessions_by_ids');
}

export class Accounts {
	readonly throttle: SignInThrottle;
	// Account creation per IP (SIGN_UPS_PER_IP_PER_HOUR): generous for a household behind one NAT,
	// tight for a script.
	readonly signUpLimiter: WindowLimiter;
	#db: Database;
	#bus: EventBus;
	#sessionTtlMs: number;
	#invites: () => Invites;
	#communities: () => Communities;
	#onThrottled: (action: 'sign_in' | 'sign_up' | 'password_change') => void;
	#guestAccess: () => boolean;
	#twoFactor: () => TwoFactor;
	#passkeys: () => Passkeys;

	constructor(deps: {
		db: Database;
		bus: EventBus;
		sessionTtlMs: number;
		signUpsPerIpPerHour: number;
		throttle?: SignInThrottle;
		/** Where the throttle and sign-up counters live (memory, or Redis shared by the nodes). */
		rateLimits?: RateLimitStore;
		invites: () => Invites;
		communities: () => Communities;
		/** Told about each refusal by the throttle or the sign-up limit (metrics). */
		onThrottled?: (action: 'sign_in' | 'sign_up' | 'password_change') => void;
		/** The instance's guest access setting, now (cached). */
		guestAccess?: () => boolean;
		twoFactor: () => TwoFactor;
		passkeys: () => Passkeys;
	}) {
		this.#db = deps.db;
		this.#bus = deps.bus;
		this.#sessionTtlMs = deps.sessionTtlMs;
		const rateLimits = deps.rateLimits ?? new MemoryRateLimitStore();
		this.signUpLimiter = new WindowLimiter(deps.signUpsPerIpPerHour, 60 * 60_000, rateLimits, 'sign-up');
		this.throttle = deps.throttle ?? new SignInThrottle({}, rateLimits, 'sign-in');
		this.#invites = deps.invites;
		this.#communities = deps.communities;
		this.#onThrottled = deps.onThrottled ?? (() => {});
		this.#guestAccess = deps.guestAccess ?? (() => false);
		this.#twoFactor = deps.twoFactor;
		this.#passkeys = deps.passkeys;
	}

	/**
	 * A visitor joins a community from its invite as a guest: a display name only, no password, a
	 * session as the only way back in. Needs guest access on; counts against the same per-address
	 * limit as sign-ups, and uses one use of the invite like any join.
	 */
	async joinAsGuest(code: string, displayName: string, meta: RequestMeta): Promise<{ user: Me; session: IssuedSession; communityId: string }> {
		const wait = await this.signUpLimiter.hit(meta.ip);
		if (wait > 0) {
			this.#onThrottled('sign_up');
			throw rateLimited(wait, 'Too many accounts created from this address. Try again later.');
		}
		const userId = crypto.randomUUID();
		const { user, communityId } = await this.#db.transaction(async (tx) => {
			const [settings] = await tx.select().from(instanceSettings).where(eq(instanceSettings.id, 1));
			if (!settings?.guestAccess) throw forbidden(GUEST_ACCESS_OFF);
			const invite = await this.#invites().consumeForSignUp(tx, code);
			if (!invite.communityId) throw invalid('Guests join a community: this invite is for creating an account.');
			const [user] = await tx
				.insert(users)
				.values({
					id: userId,
					// Never typed by anyone (guests cannot sign in); unique, and plainly a guest's.
					username: `guest-${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`,
					displayName: displayName.trim(),
					// An empty hash never verifies: no password can open a guest account.
					passwordHash: '',
					isGuest: true
				})
				.returning();
			await recordRedemption(tx, invite.code, userId);
			return { user: user!, communityId: invite.communityId };
		});
		const session = await this.#createSession(user.id, meta);
		await this.#communities().join(user.id, communityId);
		return { user: toMe(user), session, communityId };
	}

	async signUp(
		input: { username: string; password: string; displayName?: string; inviteCode?: string },
		meta: RequestMeta
	): Promise<{ user: Me; session: IssuedSession; joinedCommunityId: string | null }> {
		const wait = await this.signUpLimiter.hit(meta.ip);
		if (wait > 0) {
			this.#onThrottled('sign_up');
			throw rateLimited(wait, 'Too many accounts created from this address. Try again later.');
		}
		// Hash outside the transaction: it is slow on purpose and must not hold the lock.
		const passwordHash = await hashPassword(input.password);
		const userId = crypto.randomUUID();

		const { user, communityId, defaultCommunityId } = await this.#db.transaction(async (tx) => {
			// Serialises sign-ups, so exactly one account becomes the owner of a new instance.
			const [settings] = await tx.select().from(instanceSettings).where(eq(instanceSettings.id, 1)).for('update');
			if (!settings) throw new Error('instance settings row missing');
			const [anyone] = await tx.select({ id: users.id }).from(users).limit(1);
			const isFirst = !anyone;

			let communityId: string | null = null;
			let inviteUsed: string | null = null;
			if (!isFirst) {
				if (settings.registrationMode === 'closed') throw forbidden('Registration is closed on this server.');
				if (input.inviteCode) {
					const invite = await this.#invites().consumeForSignUp(tx, input.inviteCode);
					communityId = invite.communityId;
					inviteUsed = invite.code;
				} else if (settings.registrationMode === 'invite_only') {
					throw forbidden('This server is invite-only: you need an invite code to sign up.');
				}
			}

			const [taken] = await tx.select({ id: users.id }).from(users).where(eq(users.username, input.username));
			if (taken) throw conflict('That username is taken.');
			const [user] = await tx
				.insert(users)
				.values({
					id: userId,
					username: input.username,
					displayName: input.displayName?.trim() || input.username,
					passwordHash,
					instanceRole: isFirst ? 'owner' : 'member'
				})
				.returning();
			if (inviteUsed) await recordRedemption(tx, inviteUsed, userId);
			return { user: user!, communityId, defaultCommunityId: settings.defaultCommunityId };
		});

		const session = await this.#createSession(user.id, meta);
		if (communityId) await this.#communities().join(user.id, communityId);
		// The instance's default community (a setting) welcomes every new account.
		if (defaultCommunityId && defaultCommunityId !== communityId) await this.#communities().join(user.id, defaultCommunityId);
		return { user: toMe(user), session, joinedCommunityId: communityId };
	}

	async signIn(
		input: { username: string; password: string },
		meta: RequestMeta
	): Promise<{ user: Me; session: IssuedSession } | { pending: { token: string; expiresAt: Date; passkey: boolean } }> {
		const wait = await this.throttle.retryAfter(meta.ip, input.username);
		if (wait > 0) {
			this.#onThrottled('sign_in');
			throw rateLimited(wait, 'Too many failed sign-in attempts. Wait a moment and try again.');
		}
		const [row] = await this.#db.select().from(users).where(eq(users.username, input.username));
		if (!row) {
			await verifyAgainstDummy(input.password);
			await this.throttle.recordFailure(meta.ip, input.username);
			throw unauthenticated('Incorrect username or password.');
		}
		if (!(await verifyPassword(row.passwordHash, input.password))) {
			await this.throttle.recordFailure(meta.ip, input.username);
			throw unauthenticated('Incorrect username or password.');
		}
		if (row.disabledAt) throw forbidden('This account is disabled. Contact the server administrator.');
		await this.throttle.recordSuccess(meta.ip, input.username);
		// With a second factor, the right password earns only a pending sign-in, never a session.
		if (row.twoFactorEnabledAt) {
			const pending = await this.#twoFactor().startPending(row.id);
			return { pending: { ...pending, passkey: await this.#passkeys().hasAny(row.id) } };
		}
		return { user: toMe(row), session: await this.#createSession(row.id, meta) };
	}

	/** Signing in with a passkey alone: its user verification (PIN, biometrics) stands in for password and code. */
	async signInWithPasskey(ceremonyToken: string | undefined, response: AuthenticationResponseJSON, meta: RequestMeta): Promise<{ user: Me; session: IssuedSession }> {
		const { userId } = await this.#passkeys().signIn(ceremonyToken, response);
		const [row] = await this.#db.select().from(users).where(eq(users.id, userId));
		if (!row || row.disabledAt) throw forbidden('This account is disabled. Contact the server administrator.');
		return { user: toMe(row), session: await this.#createSession(row.id, meta) };
	}

	/** The second step of a sign-in: the code (or a recovery code) for a pending sign-in, then the session. */
	async completeSecondFactor(
		pendingToken: string | undefined,
		proof: SecondFactorProof,
		meta: RequestMeta
	): Promise<{ user: Me; session: IssuedSession; method: SecondFactorResult['method']; recoveryCodesLeft: number }> {
		const result = await this.#twoFactor().completePending(pendingToken, proof, meta.ip);
		const [row] = await this.#db.select().from(users).where(eq(users.id, result.userId));
		// Disabled while the code was being typed: the pending sign-in is spent and no session is made.
		if (!row || row.disabledAt) throw forbidden('This account is disabled. Contact the server administrator.');
		return { user: toMe(row), session: await this.#createSession(row.id, meta), method: result.method, recoveryCodesLeft: result.recoveryCodesLeft };
	}

	async #createSession(
		userId: string,
		meta: RequestMeta,
		options: { token?: string; deviceId?: string | null; executor?: Executor } = {}
	): Promise<IssuedSession> {
		const token = options.token ?? generateToken();
		const sessionId = sessionIdFromToken(token);
		const expiresAt = new Date(Date.now() + this.#sessionTtlMs);
		await (options.executor ?? this.#db).insert(sessions).values({
			id: sessionId,
			userId,
			deviceId: options.deviceId ?? null,
			expiresAt,
			userAgent: meta.userAgent.slice(0, USER_AGENT_MAX),
			ipAddress: meta.ip
		});
		return { token, expiresAt, sessionId };
	}

	/**
	 * Resolves a session token. Sessions past half their lifetime are extended (sliding expiry);
	 * `renewed` tells the caller to re-send the cookie with the new expiry. A caller that cannot
	 * send a cookie must pass `renew: false`, or the session would outlive the browser's cookie.
	 */
	// Every request and socket validates a session: the statement is built once (drizzle's query
	// building costs about as much CPU as running it on PGlite).
	#sessionsByIds: ReturnType<typeof sessionsByIdsStatement> | undefined;

	async validateSession(token: string, options: { renew?: boolean } = {}): Promise<{ user: Me; session: SessionRecord; renewed: boolean; presenceChoice: PresenceChoice } | null> {
		const [result] = await this.validateSessions([token], options);
		return result ?? null;
	}

	/**
	 * validateSession for many tokens at once, in the same few statements however many there are:
	 * the /ws upgrades that arrive together (a reconnect storm after a restart) share them. Answers
	 * in the order of `tokens`, null for each that is not a live session.
	 */
	async validateSessions(tokens: readonly string[], options: { renew?: boolean } = {}): Promise<Array<{ user: Me; session: SessionRecord; renewed: boolean; presenceChoice: PresenceChoice } | null>> {
		const ids = tokens.map((token) => (/^[a-z2-7]{32}$/.test(token) ? sessionIdFromToken(token) : null));
		const wanted = [...new Set(ids.filter((id): id is string => id !== null))];
		if (wanted.length === 0) return tokens.map(() => null);
		const rows = await (this.#sessionsByIds ??= sessionsByIdsStatement(this.#db)).execute({ ids: wanted });
		const now = Date.now();
		const results = new Map<string, { user: Me; session: SessionRecord; renewed: boolean; presenceChoice: PresenceChoice }>();
		const ended: string[] = [];
		const patches = new Map<string, Partial<SessionRecord>>();
		for (const row of rows) {
			// Turning guest access off deletes guest sessions; this also covers another process whose
			// settings cache has not caught up yet, and any session created in a race with the change.
			if (now >= row.session.expiresAt.getTime() || row.user.disabledAt || (row.user.isGuest && !this.#guestAccess())) {
				ended.push(row.session.id);
				continue;
			}
			const session = row.session;
			let renewed = false;
			const patch: Partial<SessionRecord> = {};
			if (options.renew !== false && now >= session.expiresAt.getTime() - this.#sessionTtlMs / 2) {
				patch.expiresAt = new Date(now + this.#sessionTtlMs);
				renewed = true;
			}
			if (now - session.lastSeenAt.getTime() > LAST_SEEN_RESOLUTION_MS) patch.lastSeenAt = new Date(now);
			if (Object.keys(patch).length > 0) patches.set(session.id, patch);
			results.set(session.id, { user: toMe(row.user), session, renewed, presenceChoice: row.user.presenceChoice });
		}
		if (ended.length > 0) await this.#deleteSessions(inArray(sessions.id, ended));
		// One statement per distinct patch: sessions touched together share their new lastSeenAt.
		const byPatch = new Map<string, { patch: Partial<SessionRecord>; ids: string[] }>();
		for (const [id, patch] of patches) {
			const key = `${patch.expiresAt?.getTime() ?? ''}:${patch.lastSeenAt?.getTime() ?? ''}`;
			const group = byPatch.get(key);
			if (group) group.ids.push(id);
			else byPatch.set(key, { patch, ids: [id] });
		}
		for (const { patch, ids: patched } of byPatch.values()) {
			await this.#db.update(sessions).set(patch).where(patched.length === 1 ? eq(sessions.id, patched[0]!) : inArray(sessions.id, patched));
			for (const id of patched) Object.assign(results.get(id)!.session, patch);
		}
		return ids.map((id) => (id === null ? null : (results.get(id) ?? null)));
	}

	/**
	 * Deletes sessions and revokes their encryption devices in one transaction; after commit their
	 * sockets close (sessions.revoked) and the owners' contacts hear of the device change.
	 */
	async #deleteSessions(where: SQL | undefined): Promise<string[]> {
		const { ids, notices } = await this.#db.transaction(async (tx) => {
			const deleted = await tx.delete(sessions).where(where).returning({ id: sessions.id, deviceId: sessions.deviceId });
			const { notices } = await revokeDevicesOfSessions(tx, deleted);
			return { ids: deleted.map((d) => d.id), notices };
		});
		if (ids.length) this.#bus.publish([{ type: 'sessions.revoked', sessionIds: ids }, ...notices]);
		return ids;
	}

	async signOut(sessionId: string): Promise<void> {
		const ids = await this.#deleteSessions(eq(sessions.id, sessionId));
		// Signing out twice is harmless; the socket of a session gone already closes anyway.
		if (ids.length === 0) this.#bus.publish([{ type: 'sessions.revoked', sessionIds: [sessionId] }]);
	}

	async listSessions(userId: string, currentSessionId: string): Promise<SessionView[]> {
		const rows = await this.#db.select().from(sessions).where(eq(sessions.userId, userId)).orderBy(asc(sessions.createdAt));
		return rows
			.filter((row) => row.expiresAt.getTime() > Date.now())
			.map((row) => ({
				id: row.id,
				current: row.id === currentSessionId,
				createdAt: row.createdAt.toISOString(),
				lastSeenAt: row.lastSeenAt.toISOString(),
				expiresAt: row.expiresAt.toISOString(),
				userAgent: row.userAgent,
				ipAddress: row.ipAddress
			}));
	}

	/** Revokes one of the caller's own sessions. Another user's session answers like a missing one. */
	async revokeSession(userId: string, sessionId: string): Promise<boolean> {
		const deleted = await this.#deleteSessions(and(eq(sessions.id, sessionId), eq(sessions.userId, userId)));
		return deleted.length > 0;
	}

	async revokeOtherSessions(userId: string, currentSessionId: string): Promise<number> {
		const deleted = await this.#deleteSessions(and(eq(sessions.userId, userId), ne(sessions.id, currentSessionId)));
		return deleted.length;
	}

	/**
	 * Changes the password, revokes every session of the account, and issues a new one for this
	 * browser. The other sessions' encryption devices are revoked with them; this browser's device
	 * (`keepDeviceId`) moves to the new session, so it keeps its keys and history.
	 */
	async changePassword(
		userId: string,
		currentPassword: string,
		newPassword: string,
		meta: RequestMeta,
		keepDeviceId: string | null = null
	): Promise<IssuedSession> {
		await checkOwnPassword(this.#db, this.throttle, { id: userId, ip: meta.ip }, currentPassword, {
			wrong: () => invalid('Your current password is not correct.'),
			throttled: (wait) => {
				this.#onThrottled('password_change');
				return rateLimited(wait);
			}
		});
		if (currentPassword === newPassword) throw invalid('Choose a new password that differs from the current one.');
		const passwordHash = await hashPassword(newPassword);
		const token = generateToken();
		const { revoked, notices, session } = await this.#db.transaction(async (tx) => {
			await tx.update(users).set({ passwordHash }).where(eq(users.id, userId));
			const revoked = await tx.delete(sessions).where(eq(sessions.userId, userId)).returning({ id: sessions.id, deviceId: sessions.deviceId });
			const kept = keepDeviceId && revoked.some((r) => r.deviceId === keepDeviceId) ? keepDeviceId : null;
			const { notices } = await revokeDevicesOfSessions(tx, revoked.filter((r) => r.deviceId !== kept));
			const session = await this.#createSession(userId, meta, { token, deviceId: kept, executor: tx });
			return { revoked, notices, session };
		});
		this.#bus.publish([{ type: 'sessions.revoked', sessionIds: revoked.map((r) => r.id) }, ...notices]);
		return session;
	}

	async updateProfile(userId: string, input: { displayName: string }): Promise<Me> {
		const [row] = await this.#db
			.update(users)
			.set({ displayName: input.displayName })
			.where(eq(users.id, userId))
			.returning();
		if (!row) throw unauthenticated();
		// From the database, not from who is online: the people to tell are those who share a
		// community or a DM with the user, whether or not the user has a socket open.
		const [memberships, dms] = await Promise.all([
			this.#db.select({ id: communityMembers.communityId }).from(communityMembers).where(eq(communityMembers.userId, userId)),
			this.#db.select({ id: dmParticipants.channelId }).from(dmParticipants).where(eq(dmParticipants.userId, userId))
		]);
		this.#bus.publish([{ type: 'user.updated', userId, communityIds: memberships.map((m) => m.id), dmChannelIds: dms.map((d) => d.id) }]);
		return toMe(row);
	}

	async userCount(): Promise<number> {
		const [row] = await this.#db.select({ count: sql<number>`count(*)::int` }).from(users);
		return row?.count ?? 0;
	}
}
