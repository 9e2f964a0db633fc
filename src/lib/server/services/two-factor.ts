// The second factor of an account: an authenticator app (TOTP) with its recovery codes, and its
// passkeys as an alternative answer (services/passkeys.ts checks those). Set-up
// (re-authenticated, confirmed by a first code), turning it off and new recovery codes (both
// re-authenticated), and the pending sign-in: after a right password, a short-lived, single-use
// token that only the second-factor step accepts — never a session.
//
// Guessing is bounded three ways: a pending sign-in takes PENDING_MAX_ATTEMPTS codes, then the
// password is needed again (itself throttled); wrong codes count per (client IP, account) in their
// own throttle, like sign-in's, so someone elsewhere cannot lock the owner out; and each code works
// once (the last used step is stored).
import { and, count, eq, gt, isNull, isNotNull, lt, or, sql } from 'drizzle-orm';
import type { TwoFactorStatus } from '#lib/shared/api-types.ts';
import type { Database, Executor } from '../db/open.ts';
import { pendingSignIns, recoveryCodes, totpCredentials, users } from '../db/schema.ts';
import { AppError, conflict, invalid, rateLimited, unauthenticated } from '../errors.ts';
import { requireReauthentication } from '../auth/reauth.ts';
import { hashRecoveryCode, newRecoveryCodes, normaliseRecoveryCode } from '../auth/recovery-codes.ts';
import type { SecretBox } from '../auth/secret-box.ts';
import { SignInThrottle } from '../auth/throttle.ts';
import type { RateLimitStore } from '../rate-limiters.ts';
import { generateToken, sessionIdFromToken } from '../auth/tokens.ts';
import { matchTotp, newTotpSecret, normaliseTotpCode, totpKeyUri, totpSecretText } from '../auth/totp.ts';
import { recordAudit } from './audit-log.ts';
import { PASSKEY_NOT_VERIFIED, type Passkeys } from './passkeys.ts';
import type { AuthenticationResponseJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';

/** Long enough to find the phone and open the app; short enough that a stolen pending cookie soon goes stale. */
export const PENDING_TTL_MS = 5 * 60_000;
/** Codes one pending sign-in may try; then the password is asked again (and counted by the sign-in throttle). */
export const PENDING_MAX_ATTEMPTS = 5;

export const CODE_WRONG = 'That code is not correct. Check the time on your phone and try the newest code.';
export const CODE_REUSED = 'That code was used already. Wait for the next one.';
export const CODE_MALFORMED = 'Enter the 6-digit code from your authenticator app.';
export const RECOVERY_WRONG = 'That recovery code is not correct or was used already.';
export const RECOVERY_MALFORMED = 'A recovery code has 16 letters and digits, like abcd-efgh-2345-6789.';
export const PENDING_GONE = 'Your sign-in expired or was already used. Enter your password again.';
export const CODES_THROTTLED = 'Too many wrong codes. Wait a moment and try again.';
export const ALREADY_ON = 'Two-factor authentication is already on. Turn it off first to move it to another app.';
export const NO_SETUP = 'Start the set-up again: no authenticator app is waiting for its first code.';
export const NOT_ON = 'Two-factor authentication is not on for this account.';
export const NEEDS_APP_SECRET =
	'Two-factor authentication needs APP_SECRET set on the server (authenticator secrets are encrypted with it). Ask the server administrator.';

export type SecondFactorProof = { code: string } | { recoveryCode: string } | { passkey: AuthenticationResponseJSON };
export type SecondFactorResult = { userId: string; method: 'totp' | 'recovery_code' | 'passkey'; recoveryCodesLeft: number };

export class TwoFactor {
	/** Wrong second-factor codes per (client IP, account), apart from the password throttle. */
	readonly codeThrottle: SignInThrottle;
	#db: Database;
	#box: SecretBox;
	#passwordThrottle: () => SignInThrottle;
	#issuer: () => string;
	#now: () => number;
	#appSecretConfigured: boolean;
	#passkeys: () => Passkeys;
	#onThrottled: () => void;

	constructor(deps: {
		db: Database;
		box: SecretBox;
		passwordThrottle: () => SignInThrottle;
		issuer: () => string;
		/**
		 * Without APP_SECRET (allowed outside production) the key is random per run: a secret sealed
		 * now would not open after a restart and would lock its owner out, so set-up is refused.
		 */
		appSecretConfigured: boolean;
		passkeys: () => Passkeys;
		/** Told about each refusal by the code throttle (metrics). */
		onThrottled?: () => void;
		codeThrottle?: SignInThrottle;
		/** Where the code throttle's counters live (memory, or Redis shared by the nodes). */
		rateLimits?: RateLimitStore;
		now?: () => number;
	}) {
		this.#db = deps.db;
		this.#box = deps.box;
		this.#passwordThrottle = deps.passwordThrottle;
		this.#issuer = deps.issuer;
		this.#now = deps.now ?? Date.now;
		this.#appSecretConfigured = deps.appSecretConfigured;
		this.#passkeys = deps.passkeys;
		this.#onThrottled = deps.onThrottled ?? (() => {});
		this.codeThrottle = deps.codeThrottle ?? new SignInThrottle({}, deps.rateLimits, 'second-factor');
	}

	async status(userId: string): Promise<TwoFactorStatus> {
		const [user] = await this.#db.select({ enabledAt: users.twoFactorEnabledAt }).from(users).where(eq(users.id, userId));
		const [left] = await this.#db
			.select({ n: count() })
			.from(recoveryCodes)
			.where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt)));
		return { enabled: Boolean(user?.enabledAt), enabledAt: user?.enabledAt?.toISOString() ?? null, recoveryCodesLeft: user?.enabledAt ? (left?.n ?? 0) : 0 };
	}

	/** A new secret waiting for its first code; an earlier unconfirmed one is replaced. */
	async beginSetup(actor: { id: string; ip: string; username: string }, password: string | undefined): Promise<{ secret: string; uri: string }> {
		if (!this.#appSecretConfigured) throw conflict(NEEDS_APP_SECRET);
		await requireReauthentication(this.#db, this.#passwordThrottle(), actor, password);
		const secret = newTotpSecret();
		const secretSealed = this.#box.seal(secret, actor.id);
		const stored = await this.#db.transaction(async (tx) => {
			const [existing] = await tx.select({ confirmedAt: totpCredentials.confirmedAt }).from(totpCredentials).where(eq(totpCredentials.userId, actor.id)).for('update');
			if (existing?.confirmedAt) return false;
			await tx
				.insert(totpCredentials)
				.values({ userId: actor.id, secretSealed })
				.onConflictDoUpdate({ target: totpCredentials.userId, set: { secretSealed, confirmedAt: null, lastUsedStep: null, createdAt: new Date() } });
			return true;
		});
		if (!stored) throw conflict(ALREADY_ON);
		return { secret: totpSecretText(secret), uri: totpKeyUri(this.#issuer(), actor.username, secret) };
	}

	/** The first code proves the app holds the secret: two-factor turns on, with a fresh set of recovery codes (shown once). */
	async confirmSetup(actor: { id: string; ip: string }, rawCode: string): Promise<{ recoveryCodes: string[] }> {
		const code = normaliseTotpCode(rawCode);
		if (!code) throw invalid(CODE_MALFORMED);
		await this.#checkCodeThrottle(actor.ip, actor.id);
		const [row] = await this.#db.select().from(totpCredentials).where(eq(totpCredentials.userId, actor.id));
		if (!row || row.confirmedAt) throw conflict(row ? ALREADY_ON : NO_SETUP);
		const secret = this.#box.open(row.secretSealed, actor.id);
		const step = secret ? matchTotp(secret, code, this.#now()) : null;
		if (step === null) {
			await this.codeThrottle.recordFailure(actor.ip, actor.id);
			throw invalid(CODE_WRONG);
		}
		const codes = newRecoveryCodes();
		const confirmed = await this.#db.transaction(async (tx) => {
			const now = new Date(this.#now());
			const updated = await tx
				.update(totpCredentials)
				.set({ confirmedAt: now, lastUsedStep: step })
				.where(and(eq(totpCredentials.userId, actor.id), isNull(totpCredentials.confirmedAt), eq(totpCredentials.secretSealed, row.secretSealed)))
				.returning({ userId: totpCredentials.userId });
			if (updated.length === 0) return false; // another tab confirmed or restarted the set-up meanwhile
			await tx.update(users).set({ twoFactorEnabledAt: now }).where(eq(users.id, actor.id));
			await replaceRecoveryCodes(tx, actor.id, codes);
			await recordAudit(tx, { communityId: null, actorId: actor.id, action: 'two_factor.enabled', targetUserId: actor.id, data: { method: 'totp' } });
			return true;
		});
		if (!confirmed) throw conflict(NO_SETUP);
		await this.codeThrottle.recordSuccess(actor.ip, actor.id);
		return { recoveryCodes: codes };
	}

	async disable(actor: { id: string; ip: string }, password: string | undefined): Promise<void> {
		await requireReauthentication(this.#db, this.#passwordThrottle(), actor, password);
		const removed = await this.#db.transaction(async (tx) => {
			const removed = await removeSecondFactor(tx, actor.id);
			if (removed) await recordAudit(tx, { communityId: null, actorId: actor.id, action: 'two_factor.disabled', targetUserId: actor.id });
			return removed;
		});
		if (!removed) throw conflict(NOT_ON);
	}

	/** Replaces every recovery code (used or not) with ten new ones, shown once. */
	async regenerateRecoveryCodes(actor: { id: string; ip: string }, password: string | undefined): Promise<{ recoveryCodes: string[] }> {
		await requireReauthentication(this.#db, this.#passwordThrottle(), actor, password);
		const codes = newRecoveryCodes();
		const done = await this.#db.transaction(async (tx) => {
			const [user] = await tx.select({ enabledAt: users.twoFactorEnabledAt }).from(users).where(eq(users.id, actor.id)).for('update');
			if (!user?.enabledAt) return false;
			await replaceRecoveryCodes(tx, actor.id, codes);
			await recordAudit(tx, { communityId: null, actorId: actor.id, action: 'two_factor.recovery_codes_regenerated', targetUserId: actor.id });
			return true;
		});
		if (!done) throw conflict(NOT_ON);
		return { recoveryCodes: codes };
	}

	/** After a right password: the pending token (for a cookie only the second-factor step reads). */
	async startPending(userId: string): Promise<{ token: string; expiresAt: Date }> {
		const token = generateToken();
		const expiresAt = new Date(this.#now() + PENDING_TTL_MS);
		// Stale rows of anyone go at the same time: the table stays as small as the sign-ins in flight.
		await this.#db.delete(pendingSignIns).where(lt(pendingSignIns.expiresAt, new Date(this.#now())));
		await this.#db.insert(pendingSignIns).values({ id: sessionIdFromToken(token), userId, expiresAt });
		return { token, expiresAt };
	}

	/** Options for answering a pending sign-in with one of the account's passkeys (no attempt is counted: asking guesses nothing). */
	async passkeyOptions(token: string | undefined): Promise<PublicKeyCredentialRequestOptionsJSON> {
		if (!token || !/^[a-z2-7]{32}$/.test(token)) throw unauthenticated(PENDING_GONE);
		const pendingId = sessionIdFromToken(token);
		const [pending] = await this.#db
			.select({ userId: pendingSignIns.userId })
			.from(pendingSignIns)
			.where(and(eq(pendingSignIns.id, pendingId), gt(pendingSignIns.expiresAt, new Date(this.#now())), lt(pendingSignIns.attempts, PENDING_MAX_ATTEMPTS)));
		if (!pending) throw unauthenticated(PENDING_GONE);
		return this.#passkeys().secondFactorOptions(pending.userId, pendingId);
	}

	/**
	 * Checks the second factor of a pending sign-in. On success the pending row is gone (single use)
	 * and the caller creates the session; on failure the attempt is counted, and the last allowed
	 * failure ends the pending sign-in.
	 */
	async completePending(token: string | undefined, proof: SecondFactorProof, ip: string): Promise<SecondFactorResult> {
		if (!token || !/^[a-z2-7]{32}$/.test(token)) throw unauthenticated(PENDING_GONE);
		const pendingId = sessionIdFromToken(token);
		const now = new Date(this.#now());
		// Counting first, atomically: parallel guesses on one pending sign-in cannot exceed the limit.
		const [pending] = await this.#db
			.update(pendingSignIns)
			.set({ attempts: sql`${pendingSignIns.attempts} + 1` })
			.where(and(eq(pendingSignIns.id, pendingId), gt(pendingSignIns.expiresAt, now), lt(pendingSignIns.attempts, PENDING_MAX_ATTEMPTS)))
			.returning({ userId: pendingSignIns.userId, attempts: pendingSignIns.attempts });
		if (!pending) throw unauthenticated(PENDING_GONE);
		const userId = pending.userId;
		await this.#checkCodeThrottle(ip, userId);

		const fail = async (message: string): Promise<never> => {
			await this.codeThrottle.recordFailure(ip, userId);
			if (pending.attempts >= PENDING_MAX_ATTEMPTS) await this.#db.delete(pendingSignIns).where(eq(pendingSignIns.id, pendingId));
			throw invalid(message);
		};

		if ('passkey' in proof) {
			const verified = await this.#passkeys()
				.verifySecondFactor(userId, pendingId, proof.passkey)
				.then(
					() => true,
					(error: unknown) => {
						if (error instanceof AppError && error.status === 400) return false;
						throw error;
					}
				);
			if (!verified) return fail(PASSKEY_NOT_VERIFIED);
			if (!(await consumePending(this.#db, pendingId))) throw unauthenticated(PENDING_GONE);
			await this.codeThrottle.recordSuccess(ip, userId);
			return { userId, method: 'passkey', recoveryCodesLeft: await this.#recoveryCodesLeft(userId) };
		}

		if ('code' in proof) {
			const code = normaliseTotpCode(proof.code);
			if (!code) return fail(CODE_MALFORMED);
			const [row] = await this.#db.select().from(totpCredentials).where(and(eq(totpCredentials.userId, userId), isNotNull(totpCredentials.confirmedAt)));
			const secret = row ? this.#box.open(row.secretSealed, userId) : null;
			const step = secret ? matchTotp(secret, code, now.getTime()) : null;
			if (step === null) return fail(CODE_WRONG);
			const result = await this.#db.transaction(async (tx) => {
				if (!(await consumePending(tx, pendingId))) return 'gone' as const;
				// A code works once: the step must be later than the last one used.
				const used = await tx
					.update(totpCredentials)
					.set({ lastUsedStep: step })
					.where(and(eq(totpCredentials.userId, userId), or(isNull(totpCredentials.lastUsedStep), lt(totpCredentials.lastUsedStep, step))))
					.returning({ userId: totpCredentials.userId });
				// Throwing rolls the pending sign-in's deletion back: the attempt counts, the sign-in lives on.
				if (used.length === 0) throw new Refused('reused');
				return 'ok' as const;
			}).catch(refusedAs);
			if (result === 'gone') throw unauthenticated(PENDING_GONE);
			if (result === 'reused') return fail(CODE_REUSED);
			await this.codeThrottle.recordSuccess(ip, userId);
			return { userId, method: 'totp', recoveryCodesLeft: await this.#recoveryCodesLeft(userId) };
		}

		const normalised = normaliseRecoveryCode(proof.recoveryCode);
		if (!normalised) return fail(RECOVERY_MALFORMED);
		const result = await this.#db.transaction(async (tx) => {
			if (!(await consumePending(tx, pendingId))) return 'gone' as const;
			const used = await tx
				.update(recoveryCodes)
				.set({ usedAt: now })
				.where(and(eq(recoveryCodes.userId, userId), eq(recoveryCodes.codeHash, hashRecoveryCode(normalised)), isNull(recoveryCodes.usedAt)))
				.returning({ id: recoveryCodes.id });
			if (used.length === 0) throw new Refused('wrong');
			const [left] = await tx.select({ n: count() }).from(recoveryCodes).where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt)));
			const remaining = left?.n ?? 0;
			await recordAudit(tx, { communityId: null, actorId: userId, action: 'two_factor.recovery_code_used', targetUserId: userId, data: { remaining } });
			return remaining;
		}).catch(refusedAs);
		if (result === 'gone') throw unauthenticated(PENDING_GONE);
		if (result === 'wrong' || result === 'reused') return fail(RECOVERY_WRONG);
		await this.codeThrottle.recordSuccess(ip, userId);
		return { userId, method: 'recovery_code', recoveryCodesLeft: result };
	}

	async #recoveryCodesLeft(userId: string): Promise<number> {
		const [left] = await this.#db.select({ n: count() }).from(recoveryCodes).where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt)));
		return left?.n ?? 0;
	}

	async #checkCodeThrottle(ip: string, userId: string) {
		const wait = await this.codeThrottle.retryAfter(ip, userId);
		if (wait > 0) {
			this.#onThrottled();
			throw rateLimited(wait, CODES_THROTTLED);
		}
	}
}

/** Deletes the pending row; false when it was used or removed meanwhile (single use under concurrency). */
async function consumePending(tx: Executor, pendingId: string): Promise<boolean> {
	const deleted = await tx.delete(pendingSignIns).where(eq(pendingSignIns.id, pendingId)).returning({ id: pendingSignIns.id });
	return deleted.length > 0;
}

async function replaceRecoveryCodes(tx: Executor, userId: string, codes: string[]): Promise<void> {
	await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
	await tx.insert(recoveryCodes).values(codes.map((code) => ({ id: crypto.randomUUID(), userId, codeHash: hashRecoveryCode(normaliseRecoveryCode(code)!) })));
}

/** Removes the account's second factor entirely (its own choice, or an admin's reset); true when there was one. */
export async function removeSecondFactor(tx: Executor, userId: string): Promise<boolean> {
	const [user] = await tx.select({ enabledAt: users.twoFactorEnabledAt }).from(users).where(eq(users.id, userId)).for('update');
	await tx.delete(totpCredentials).where(eq(totpCredentials.userId, userId));
	await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
	await tx.delete(pendingSignIns).where(eq(pendingSignIns.userId, userId));
	if (!user?.enabledAt) return false;
	await tx.update(users).set({ twoFactorEnabledAt: null }).where(eq(users.id, userId));
	return true;
}

/** Thrown inside a transaction to undo it and say why; turned back into a value outside. */
class Refused extends Error {
	readonly kind: 'reused' | 'wrong';
	constructor(kind: 'reused' | 'wrong') {
		super(kind);
		this.kind = kind;
	}
}

function refusedAs(error: unknown): 'reused' | 'wrong' {
	if (error instanceof Refused) return error.kind;
	throw error;
}
