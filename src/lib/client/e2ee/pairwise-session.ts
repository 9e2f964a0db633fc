// Olm-like pairwise sessions between two devices: X3DH to start, the Double Ratchet after. The
// initiator creates an outbound session from the other device's prekey bundle and keeps sending
// "prekey" envelopes (which carry the X3DH inputs) until it receives a reply; the responder creates
// the inbound session from the first prekey envelope it receives.
//
// Sessions are plain JSON-safe objects; functions return new sessions and never modify the ones
// passed in, so the engine persists a session only after an operation succeeded.
import type { PrekeyBundle } from '#lib/shared/e2ee.ts';
import type { IdentityKeyPair, PrekeyPair } from './device-keys.ts';
import { canEncrypt, initRatchetAsInitiator, initRatchetAsResponder, ratchetDecrypt, ratchetEncrypt, type RatchetState } from './double-ratchet.ts';
import { encodeFields, fromB64, fromUtf8, toB64, utf8 } from './encoding.ts';
import { parsePairwiseEnvelope, type PairwiseEnvelope, type PairwisePrekeyEnvelope } from './envelopes.ts';
import { DecryptionError, DuplicateMessageError, MissingKeyError, TooManySkippedError } from './errors.ts';
import type { Sodium } from './sodium.ts';
import { x3dhInitiate, x3dhRespond } from './x3dh.ts';

export { BadSignatureError, DecryptionError, DuplicateMessageError, MissingKeyError, TooManySkippedError } from './errors.ts';

export type PairwiseSession = {
	v: 1;
	/** Same on both sides: derived from both identity keys and the initiator's ephemeral key. */
	id: string;
	/** The other device's Ed25519 identity key, authenticated by the session (X3DH binds it). */
	remoteIdentityKey: string;
	localIdentityKey: string;
	/** Set on an outbound session until the first reply arrives: every message repeats the X3DH inputs. */
	pendingPrekey: { ek: string; spk: number; otk: number | null } | null;
	ratchet: RatchetState;
	createdAt: number;
	/** Last successful encrypt or decrypt; of several sessions with one device, the most recent sends. */
	lastUsedAt: number;
};

/** This device's private keys, as inbound session creation needs them. */
export type LocalPrekeys = {
	identity: IdentityKeyPair;
	/** The signed prekey with this id: the current one, or a replaced one still retained. */
	signedPrekey(id: number): PrekeyPair | undefined;
	/** The unused one-time prekey with this id. */
	oneTimePrekey(id: number): PrekeyPair | undefined;
};

function sessionId(sodium: Sodium, initiatorIdentityKey: string, responderIdentityKey: string, ephemeralKey: string): string {
	return toB64(
		sodium.crypto_generichash(16, encodeFields('hearth:pairwise-session-id:v1', fromB64(initiatorIdentityKey), fromB64(responderIdentityKey), fromB64(ephemeralKey)), null)
	);
}

/**
 * Starts a session with the device of `bundle` (claimed from the server). Throws BadSignatureError
 * when the bundle's signed prekey is not signed by its identity key.
 */
export function createOutboundSession(sodium: Sodium, identity: IdentityKeyPair, bundle: PrekeyBundle, now = Date.now()): PairwiseSession {
	const x3dh = x3dhInitiate(sodium, identity, bundle);
	const ratchet = initRatchetAsInitiator(sodium, x3dh.sharedKey, x3dh.associatedData, x3dh.signedPrekeyPublic);
	sodium.memzero(x3dh.sharedKey);
	return {
		v: 1,
		id: sessionId(sodium, identity.publicKey, bundle.identityKey, x3dh.ephemeralKey),
		remoteIdentityKey: bundle.identityKey,
		localIdentityKey: identity.publicKey,
		pendingPrekey: { ek: x3dh.ephemeralKey, spk: x3dh.signedPrekeyId, otk: x3dh.oneTimePrekeyId },
		ratchet,
		createdAt: now,
		lastUsedAt: now
	};
}

/** Encrypts `plaintext` (UTF-8 text, usually JSON) into a pairwise envelope. */
export function encryptPairwise(
	sodium: Sodium,
	current: PairwiseSession,
	plaintext: string,
	now = Date.now()
): { session: PairwiseSession; envelope: PairwiseEnvelope; body: string } {
	const { state, header, ciphertext } = ratchetEncrypt(sodium, current.ratchet, utf8(plaintext));
	const base = { v: 1 as const, ik: current.localIdentityKey, h: header, c: ciphertext };
	const pending = current.pendingPrekey;
	const envelope: PairwiseEnvelope = pending
		? { ...base, t: 'prekey', ek: pending.ek, spk: pending.spk, ...(pending.otk === null ? {} : { otk: pending.otk }) }
		: { ...base, t: 'msg' };
	return { session: { ...current, ratchet: state, lastUsedAt: now }, envelope, body: JSON.stringify(envelope) };
}

/** Whether `envelope` is a prekey message that started (or would start) this very session. */
export function isPrekeyEnvelopeOf(sodium: Sodium, session: PairwiseSession, envelope: PairwiseEnvelope): boolean {
	return envelope.t === 'prekey' && session.id === sessionId(sodium, envelope.ik, session.localIdentityKey, envelope.ek);
}

/**
 * Decrypts an envelope with one session. Throws DecryptionError when the envelope is from another
 * device or session, or does not authenticate; DuplicateMessageError on a replay;
 * TooManySkippedError beyond MAX_SKIP.
 */
export function decryptPairwise(
	sodium: Sodium,
	current: PairwiseSession,
	input: PairwiseEnvelope | string,
	now = Date.now()
): { session: PairwiseSession; plaintext: string } {
	const envelope = parsePairwiseEnvelope(input);
	if (envelope.ik !== current.remoteIdentityKey) throw new DecryptionError('envelope is from another identity');
	if (envelope.t === 'prekey' && !isPrekeyEnvelopeOf(sodium, current, envelope)) throw new DecryptionError('prekey envelope of another session');
	const { state, plaintext } = ratchetDecrypt(sodium, current.ratchet, envelope.h, envelope.c);
	return {
		// Anything received on an outbound session proves the other side has it: stop sending prekey envelopes.
		session: { ...current, ratchet: state, pendingPrekey: null, lastUsedAt: now },
		plaintext: decodeText(plaintext)
	};
}

function decodeText(bytes: Uint8Array): string {
	try {
		return fromUtf8(bytes);
	} catch {
		throw new DecryptionError('plaintext is not UTF-8');
	}
}

/**
 * Creates the responder's session from a prekey envelope and decrypts it. The caller stores the
 * session, then deletes the one-time prekey `usedOneTimePrekeyId` (only after this succeeded).
 * Throws MissingKeyError when the signed or one-time prekey it names is not held (already used).
 */
export function createInboundSession(
	sodium: Sodium,
	local: LocalPrekeys,
	input: PairwiseEnvelope | string,
	now = Date.now()
): { session: PairwiseSession; plaintext: string; usedOneTimePrekeyId: number | null } {
	const envelope = parsePairwiseEnvelope(input);
	if (envelope.t !== 'prekey') throw new DecryptionError('only a prekey envelope can start a session');
	const signedPrekey = local.signedPrekey(envelope.spk);
	if (!signedPrekey) throw new MissingKeyError('unknown signed prekey');
	const oneTimePrekey = envelope.otk === undefined ? null : local.oneTimePrekey(envelope.otk);
	if (oneTimePrekey === undefined) throw new MissingKeyError('unknown or already used one-time prekey');
	const x3dh = x3dhRespond(sodium, {
		identity: local.identity,
		remoteIdentityKey: envelope.ik,
		ephemeralKey: envelope.ek,
		signedPrekey,
		oneTimePrekey
	});
	const ratchet = initRatchetAsResponder(x3dh.sharedKey, x3dh.associatedData, signedPrekey);
	sodium.memzero(x3dh.sharedKey);
	const fresh: PairwiseSession = {
		v: 1,
		id: sessionId(sodium, envelope.ik, local.identity.publicKey, envelope.ek),
		remoteIdentityKey: envelope.ik,
		localIdentityKey: local.identity.publicKey,
		pendingPrekey: null,
		ratchet,
		createdAt: now,
		lastUsedAt: now
	};
	const { session, plaintext } = decryptPairwise(sodium, fresh, envelope, now);
	return { session, plaintext, usedOneTimePrekeyId: envelope.otk ?? null };
}

/** How specific a failure is, to report the most telling one after trying several sessions. */
function rank(error: unknown): number {
	if (error instanceof DuplicateMessageError || error instanceof TooManySkippedError) return 2;
	if (error instanceof DecryptionError) return 1;
	return 0;
}

/**
 * Decrypts an envelope from one remote device, given every session held with it (several exist
 * after simultaneous initiation). A prekey envelope goes to the session it started, or creates a
 * new inbound session (needs `local`); a normal envelope is tried on each session, most recently
 * used first. Returns the session to store (new when `isNew`).
 */
export function decryptFromDevice(
	sodium: Sodium,
	sessions: readonly PairwiseSession[],
	input: PairwiseEnvelope | string,
	local: LocalPrekeys | null,
	now = Date.now()
): { session: PairwiseSession; plaintext: string; isNew: boolean; usedOneTimePrekeyId: number | null } {
	const envelope: PairwisePrekeyEnvelope | PairwiseEnvelope = parsePairwiseEnvelope(input);
	if (envelope.t === 'prekey') {
		const existing = sessions.find((session) => isPrekeyEnvelopeOf(sodium, session, envelope));
		if (existing) return { ...decryptPairwise(sodium, existing, envelope, now), isNew: false, usedOneTimePrekeyId: null };
		if (!local) throw new MissingKeyError('no session for this prekey envelope');
		return { ...createInboundSession(sodium, local, envelope, now), isNew: true };
	}
	const candidates = sessions.filter((session) => session.remoteIdentityKey === envelope.ik).sort((a, b) => b.lastUsedAt - a.lastUsedAt);
	if (candidates.length === 0) throw new MissingKeyError('no session with this device');
	let best: unknown;
	for (const session of candidates) {
		try {
			return { ...decryptPairwise(sodium, session, envelope, now), isNew: false, usedOneTimePrekeyId: null };
		} catch (error) {
			if (!(error instanceof DecryptionError)) throw error;
			if (best === undefined || rank(error) > rank(best)) best = error;
		}
	}
	throw best;
}

/** The session to send with: the most recently used one that can encrypt, or undefined (claim a bundle). */
export function pickSendingSession(sessions: readonly PairwiseSession[]): PairwiseSession | undefined {
	return sessions.filter((session) => canEncrypt(session.ratchet)).sort((a, b) => b.lastUsedAt - a.lastUsedAt)[0];
}
