// Passkeys: adding one (after the password, its challenge bound to the session that asked), listing
// and removing them (after the password), and signing in with one alone: a discoverable credential
// picked in the browser's account list, its challenge bound to a short-lived cookie of the browser
// that asked. Every challenge is single-use (deleted as it is checked). User verification (the
// authenticator's PIN or biometrics) is required, which is what makes a passkey enough on its own.
import { and, asc, eq, gt, lt } from 'drizzle-orm';
import type {
	AuthenticationResponseJSON,
	PublicKeyCredentialCreationOptionsJSON,
	PublicKeyCredentialRequestOptionsJSON,
	RegistrationResponseJSON,
	verifyAuthenticationResponse,
	verifyRegistrationResponse
} from '@simplewebauthn/server';
import type { PasskeyView } from '#lib/shared/api-types.ts';
import type { Database } from '../db/open.ts';
import { passkeys, users, webauthnChallenges } from '../db/schema.ts';
import { conflict, forbidden, invalid, notFound, unavailable } from '../errors.ts';
import { requireReauthentication } from '../auth/reauth.ts';
import type { SignInThrottle } from '../auth/throttle.ts';
import { sessionIdFromToken } from '../auth/tokens.ts';
import type { RelyingParty } from '../auth/webauthn-relying-party.ts';
import { recordAudit } from './audit-log.ts';

/** Time to touch the key or find the phone; the browser's own prompt times out at about the same. */
const CHALLENGE_TTL_MS = 5 * 60_000;
/** A person with more has lost track of them; it also bounds the excludeCredentials list. */
export const PASSKEYS_PER_ACCOUNT_MAX = 20;

export const PASSKEYS_UNAVAILABLE =
	'Passkeys need the server to be opened by a host name (ORIGIN), not an IP address. Ask the server administrator.';
export const PASSKEY_NOT_VERIFIED = 'The passkey could not be verified. Try again.';
export const PASSKEY_CHALLENGE_GONE = 'That passkey request expired or was already used. Start again.';
export const PASSKEY_UNKNOWN = 'This passkey is not registered on this server. Sign in with your password.';
export const PASSKEY_EXISTS = 'That passkey is already registered.';

// @simplewebauthn/server with its X.509/ASN.1 stack is ~5 MB of heap: it is loaded by the first
// passkey operation (once, a few tens of ms) instead of by every server at start.
const webauthn = () => import('@simplewebauthn/server');

type ChallengePurpose = 'register' | 'sign_in' | 'second_factor';

export class Passkeys {
	#db: Database;
	#passwordThrottle: () => SignInThrottle;
	#relyingParty: () => RelyingParty | null;
	#rpName: () => string;
	#now: () => number;

	constructor(deps: {
		db: Database;
		passwordThrottle: () => SignInThrottle;
		/** From ORIGIN and ALLOWED_ORIGINS, read when used (the real port is known only once listening). */
		relyingParty: () => RelyingParty | null;
		rpName: () => string;
		now?: () => number;
	}) {
		this.#db = deps.db;
		this.#passwordThrottle = deps.passwordThrottle;
		this.#relyingParty = deps.relyingParty;
		this.#rpName = deps.rpName;
		this.#now = deps.now ?? Date.now;
	}

	#rp(): RelyingParty {
		const rp = this.#relyingParty();
		if (!rp) throw unavailable(PASSKEYS_UNAVAILABLE);
		return rp;
	}

	async list(userId: string): Promise<PasskeyView[]> {
		const rows = await this.#db.select().from(passkeys).where(eq(passkeys.userId, userId)).orderBy(asc(passkeys.createdAt));
		return rows.map(toView);
	}

	/** The options for the browser's "create a passkey" prompt; needs the password again. */
	async registrationOptions(
		actor: { id: string; ip: string; username: string; displayName: string; sessionId: string },
		password: string | undefined
	): Promise<PublicKeyCredentialCreationOptionsJSON> {
		const rp = this.#rp();
		await requireReauthentication(this.#db, this.#passwordThrottle(), actor, password);
		const existing = await this.#db.select({ id: passkeys.id, transports: passkeys.transports }).from(passkeys).where(eq(passkeys.userId, actor.id));
		if (existing.length >= PASSKEYS_PER_ACCOUNT_MAX) throw conflict(`An account can have at most ${PASSKEYS_PER_ACCOUNT_MAX} passkeys. Remove one first.`);
		const options = await (await webauthn()).generateRegistrationOptions({
			rpName: this.#rpName(),
			rpID: rp.id,
			userName: actor.username,
			userDisplayName: actor.displayName,
			// The WebAuthn user handle: the account id's bytes, never the username (which may change).
			userID: new TextEncoder().encode(actor.id),
			attestationType: 'none',
			// The authenticator refuses to make a second passkey for this account on itself.
			excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports })),
			authenticatorSelection: { residentKey: 'required', userVerification: 'required' }
		});
		await this.#storeChallenge(actor.sessionId, 'register', options.challenge);
		return options;
	}

	async register(actor: { id: string; sessionId: string }, name: string, response: RegistrationResponseJSON): Promise<PasskeyView> {
		const rp = this.#rp();
		const expectedChallenge = await this.#takeChallenge(actor.sessionId, 'register');
		let verification: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
		try {
			verification = await (await webauthn()).verifyRegistrationResponse({
				response,
				expectedChallenge,
				expectedOrigin: rp.origins,
				expectedRPID: rp.id,
				requireUserVerification: true
			});
		} catch {
			// The library's reasons name internals (CBOR fields, flags); the person needs only this.
			throw invalid(PASSKEY_NOT_VERIFIED);
		}
		if (!verification.verified) throw invalid(PASSKEY_NOT_VERIFIED);
		const info = verification.registrationInfo;
		const row = await this.#db.transaction(async (tx) => {
			const [taken] = await tx.select({ id: passkeys.id }).from(passkeys).where(eq(passkeys.id, info.credential.id));
			if (taken) throw conflict(PASSKEY_EXISTS);
			const [row] = await tx
				.insert(passkeys)
				.values({
					id: info.credential.id,
					userId: actor.id,
					name,
					publicKey: info.credential.publicKey,
					counter: info.credential.counter,
					transports: (info.credential.transports ?? []).slice(0, 8),
					deviceType: info.credentialDeviceType,
					backedUp: info.credentialBackedUp
				})
				.returning();
			await recordAudit(tx, { communityId: null, actorId: actor.id, action: 'passkey.added', targetUserId: actor.id, data: { name, synced: info.credentialDeviceType === 'multiDevice' } });
			return row!;
		});
		return toView(row);
	}

	async remove(actor: { id: string; ip: string }, passkeyId: string, password: string | undefined): Promise<void> {
		const [row] = await this.#db.select({ name: passkeys.name }).from(passkeys).where(and(eq(passkeys.id, passkeyId), eq(passkeys.userId, actor.id)));
		// Another account's passkey answers like a missing one.
		if (!row) throw notFound('Passkey');
		await requireReauthentication(this.#db, this.#passwordThrottle(), actor, password);
		await this.#db.transaction(async (tx) => {
			const deleted = await tx.delete(passkeys).where(and(eq(passkeys.id, passkeyId), eq(passkeys.userId, actor.id))).returning({ id: passkeys.id });
			if (deleted.length === 0) throw notFound('Passkey');
			await recordAudit(tx, { communityId: null, actorId: actor.id, action: 'passkey.removed', targetUserId: actor.id, data: { name: row.name } });
		});
	}

	/** Options for signing in with any passkey of this server (the browser offers its account list). */
	async signInOptions(ceremonyToken: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
		const rp = this.#rp();
		const options = await (await webauthn()).generateAuthenticationOptions({ rpID: rp.id, userVerification: 'required' });
		await this.#storeChallenge(sessionIdFromToken(ceremonyToken), 'sign_in', options.challenge);
		return options;
	}

	/** Checks a passkey sign-in; the account it belongs to, for the caller to make a session. */
	async signIn(ceremonyToken: string | undefined, response: AuthenticationResponseJSON): Promise<{ userId: string }> {
		const rp = this.#rp();
		if (!ceremonyToken || !/^[a-z2-7]{32}$/.test(ceremonyToken)) throw invalid(PASSKEY_CHALLENGE_GONE);
		const expectedChallenge = await this.#takeChallenge(sessionIdFromToken(ceremonyToken), 'sign_in');
		const [row] = await this.#db
			.select({ passkey: passkeys, disabledAt: users.disabledAt })
			.from(passkeys)
			.innerJoin(users, eq(users.id, passkeys.userId))
			.where(eq(passkeys.id, response.id));
		if (!row) throw invalid(PASSKEY_UNKNOWN);
		// The user handle the authenticator returns must name the passkey's own account.
		if (response.response.userHandle && response.response.userHandle !== Buffer.from(row.passkey.userId).toString('base64url')) {
			throw invalid(PASSKEY_NOT_VERIFIED);
		}
		let verification: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
		try {
			verification = await (await webauthn()).verifyAuthenticationResponse({
				response,
				expectedChallenge,
				expectedOrigin: rp.origins,
				expectedRPID: rp.id,
				credential: { id: row.passkey.id, publicKey: new Uint8Array(row.passkey.publicKey), counter: row.passkey.counter, transports: row.passkey.transports },
				requireUserVerification: true
			});
		} catch {
			throw invalid(PASSKEY_NOT_VERIFIED);
		}
		if (!verification.verified) throw invalid(PASSKEY_NOT_VERIFIED);
		if (row.disabledAt) throw forbidden('This account is disabled. Contact the server administrator.');
		const info = verification.authenticationInfo;
		await this.#db
			.update(passkeys)
			.set({ counter: info.newCounter, backedUp: info.credentialBackedUp, lastUsedAt: new Date(this.#now()) })
			.where(eq(passkeys.id, row.passkey.id));
		return { userId: row.passkey.userId };
	}

	async hasAny(userId: string): Promise<boolean> {
		const [row] = await this.#db.select({ id: passkeys.id }).from(passkeys).where(eq(passkeys.userId, userId)).limit(1);
		return Boolean(row);
	}

	/**
	 * Options for a passkey as the second factor of a pending sign-in (`binding`: the pending
	 * sign-in's id): only this account's passkeys are offered. Presence is enough here, the password
	 * having been checked already; the authenticator verifies the person where it can.
	 */
	async secondFactorOptions(userId: string, binding: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
		const rp = this.#rp();
		const mine = await this.#db.select({ id: passkeys.id, transports: passkeys.transports }).from(passkeys).where(eq(passkeys.userId, userId));
		if (mine.length === 0) throw conflict('This account has no passkey. Use your authenticator app or a recovery code.');
		const options = await (await webauthn()).generateAuthenticationOptions({
			rpID: rp.id,
			allowCredentials: mine.map((p) => ({ id: p.id, transports: p.transports as never })),
			userVerification: 'preferred'
		});
		await this.#storeChallenge(binding, 'second_factor', options.challenge);
		return options;
	}

	/** Checks a passkey answer as the second factor of `userId`'s pending sign-in; throws invalid() when it does not hold. */
	async verifySecondFactor(userId: string, binding: string, response: AuthenticationResponseJSON): Promise<void> {
		const rp = this.#rp();
		const expectedChallenge = await this.#takeChallenge(binding, 'second_factor');
		// Only this account's passkeys count: another account's is refused like a forged one.
		const [row] = await this.#db.select().from(passkeys).where(and(eq(passkeys.id, response.id), eq(passkeys.userId, userId)));
		if (!row) throw invalid(PASSKEY_NOT_VERIFIED);
		let verification: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
		try {
			verification = await (await webauthn()).verifyAuthenticationResponse({
				response,
				expectedChallenge,
				expectedOrigin: rp.origins,
				expectedRPID: rp.id,
				credential: { id: row.id, publicKey: new Uint8Array(row.publicKey), counter: row.counter, transports: row.transports },
				requireUserVerification: false
			});
		} catch {
			throw invalid(PASSKEY_NOT_VERIFIED);
		}
		if (!verification.verified) throw invalid(PASSKEY_NOT_VERIFIED);
		const info = verification.authenticationInfo;
		await this.#db
			.update(passkeys)
			.set({ counter: info.newCounter, backedUp: info.credentialBackedUp, lastUsedAt: new Date(this.#now()) })
			.where(eq(passkeys.id, row.id));
	}

	async #storeChallenge(binding: string, purpose: ChallengePurpose, challenge: string): Promise<void> {
		const now = new Date(this.#now());
		const expiresAt = new Date(now.getTime() + CHALLENGE_TTL_MS);
		await this.#db.delete(webauthnChallenges).where(lt(webauthnChallenges.expiresAt, now));
		await this.#db
			.insert(webauthnChallenges)
			.values({ binding, purpose, challenge, expiresAt })
			.onConflictDoUpdate({ target: [webauthnChallenges.binding, webauthnChallenges.purpose], set: { challenge, expiresAt } });
	}

	/** The outstanding challenge of this binding, deleted in the same statement: an answer is checked at most once. */
	async #takeChallenge(binding: string, purpose: ChallengePurpose): Promise<string> {
		const [row] = await this.#db
			.delete(webauthnChallenges)
			.where(and(eq(webauthnChallenges.binding, binding), eq(webauthnChallenges.purpose, purpose), gt(webauthnChallenges.expiresAt, new Date(this.#now()))))
			.returning({ challenge: webauthnChallenges.challenge });
		if (!row) throw invalid(PASSKEY_CHALLENGE_GONE);
		return row.challenge;
	}
}

function toView(row: typeof passkeys.$inferSelect): PasskeyView {
	return {
		id: row.id,
		name: row.name,
		createdAt: row.createdAt.toISOString(),
		lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
		synced: row.deviceType === 'multiDevice',
		backedUp: row.backedUp
	};
}
