// The Double Ratchet (Signal's specification, "without header encryption"), over X25519, the
// keyed-BLAKE2b KDFs of kdf.ts and XChaCha20-Poly1305-IETF.
//
// The state is a plain object of strings and numbers, so the key store can persist it as JSON or by
// structured clone. Every operation is transactional: it works on a copy and returns the new state,
// leaving the caller's state untouched, so a message that fails to decrypt changes nothing (the
// spec's "discard changes to the state") and trying several sessions on one message is safe.
import { concat, fromB64, fromB64Exact, toB64, u32 } from './encoding.ts';
import { DecryptionError, DuplicateMessageError, TooManySkippedError } from './errors.ts';
import { kdfChainKey, kdfRootKey } from './kdf.ts';
import type { Sodium } from './sodium.ts';

/** Most message keys one receiving chain may skip ahead in a single message (the spec's MAX_SKIP). */
export const MAX_SKIP = 1000;
/**
 * Most skipped message keys held at once, over all chains; the oldest is evicted first. Bounds the
 * storage an attacker (or a very lossy network) can make us keep, at the price of old stragglers.
 */
export const MAX_SKIPPED_KEYS = 2000;
/**
 * Remote ratchet keys of past receiving chains remembered, so a replayed message of an old chain is
 * reported as a duplicate instead of starting a (failing) DH ratchet step.
 */
export const MAX_PREVIOUS_REMOTE_KEYS = 50;

export type RatchetHeader = { dh: string; pn: number; n: number };
export type SkippedMessageKey = { dh: string; n: number; mk: string };

export type RatchetState = {
	v: 1;
	/** Associated data of the session (X3DH's IK_A ‖ IK_B), bound into every message. */
	ad: string;
	rootKey: string;
	/** Our current ratchet key pair (X25519). */
	dhSelf: { publicKey: string; privateKey: string };
	/** The other side's current ratchet public key; null for the responder until the first message. */
	dhRemote: string | null;
	sendChain: string | null;
	recvChain: string | null;
	/** Messages sent in the current sending chain, received in the current receiving chain, sent in the previous sending chain. */
	sendN: number;
	recvN: number;
	prevSendN: number;
	/** Oldest first. */
	skipped: SkippedMessageKey[];
	previousRemoteKeys: string[];
};

const NONCE_BYTES = 24;

function dh(sodium: Sodium, privateKey: string, publicKey: string): Uint8Array {
	try {
		return sodium.crypto_scalarmult(fromB64Exact(privateKey, 32, 'ratchet private key'), fromB64Exact(publicKey, 32, 'ratchet public key'));
	} catch {
		// libsodium refuses low-order points (an all-zero shared secret).
		throw new DecryptionError('invalid ratchet public key');
	}
}

function generateRatchetKey(sodium: Sodium): { publicKey: string; privateKey: string } {
	const pair = sodium.crypto_box_keypair();
	return { publicKey: toB64(pair.publicKey), privateKey: toB64(pair.privateKey) };
}

/** The initiator (Alice) starts with SK and the responder's signed prekey as the remote ratchet key. */
export function initRatchetAsInitiator(sodium: Sodium, sharedKey: Uint8Array, associatedData: Uint8Array, remoteRatchetKey: string): RatchetState {
	const dhSelf = generateRatchetKey(sodium);
	const { rootKey, chainKey } = kdfRootKey(sodium, sharedKey, dh(sodium, dhSelf.privateKey, remoteRatchetKey));
	return {
		v: 1,
		ad: toB64(associatedData),
		rootKey: toB64(rootKey),
		dhSelf,
		dhRemote: remoteRatchetKey,
		sendChain: toB64(chainKey),
		recvChain: null,
		sendN: 0,
		recvN: 0,
		prevSendN: 0,
		skipped: [],
		previousRemoteKeys: []
	};
}

/** The responder (Bob) starts with SK and its signed prekey pair as its ratchet key; it sends after its first receive. */
export function initRatchetAsResponder(
	sharedKey: Uint8Array,
	associatedData: Uint8Array,
	ownRatchetKey: { publicKey: string; privateKey: string }
): RatchetState {
	return {
		v: 1,
		ad: toB64(associatedData),
		rootKey: toB64(sharedKey),
		dhSelf: { publicKey: ownRatchetKey.publicKey, privateKey: ownRatchetKey.privateKey },
		dhRemote: null,
		sendChain: null,
		recvChain: null,
		sendN: 0,
		recvN: 0,
		prevSendN: 0,
		skipped: [],
		previousRemoteKeys: []
	};
}

/**
 * A copy safe to modify: the arrays are copied, their entries are not (entries are never changed in
 * place, only added or removed), which keeps a decrypt cheap with thousands of skipped keys held.
 */
function copyState(state: RatchetState): RatchetState {
	return { ...state, dhSelf: { ...state.dhSelf }, skipped: state.skipped.slice(), previousRemoteKeys: state.previousRemoteKeys.slice() };
}

/** Whether this state can encrypt (the responder cannot until it has received a message). */
export function canEncrypt(state: RatchetState): boolean {
	return state.sendChain !== null;
}

/** The header as authenticated: dh (32 bytes) ‖ pn (u32 BE) ‖ n (u32 BE). Fixed width, so unambiguous. */
export function encodeHeader(header: RatchetHeader): Uint8Array {
	return concat(fromB64Exact(header.dh, 32, 'header dh'), u32(header.pn), u32(header.n));
}

function aeadAd(state: RatchetState, header: RatchetHeader): Uint8Array {
	return concat(fromB64(state.ad), encodeHeader(header));
}

export function ratchetEncrypt(
	sodium: Sodium,
	current: RatchetState,
	plaintext: Uint8Array
): { state: RatchetState; header: RatchetHeader; ciphertext: string } {
	if (current.sendChain === null) throw new Error('this session cannot send before it has received a message');
	const state = copyState(current);
	const { chainKey, messageKey } = kdfChainKey(sodium, fromB64(current.sendChain!));
	const header: RatchetHeader = { dh: state.dhSelf.publicKey, pn: state.prevSendN, n: state.sendN };
	state.sendChain = toB64(chainKey);
	state.sendN += 1;
	// Message keys are single-use, but a random nonce still keeps a key reused by a restored
	// (rolled-back) state from repeating a keystream.
	const nonce = sodium.randombytes_buf(NONCE_BYTES);
	const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aeadAd(state, header), null, nonce, messageKey);
	sodium.memzero(messageKey);
	return { state, header, ciphertext: toB64(concat(nonce, sealed)) };
}

function open(sodium: Sodium, messageKey: Uint8Array, ciphertext: string, ad: Uint8Array): Uint8Array {
	let bytes: Uint8Array;
	try {
		bytes = fromB64(ciphertext);
	} catch {
		throw new DecryptionError('ciphertext is not base64url');
	}
	if (bytes.length < NONCE_BYTES + sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES) throw new DecryptionError('ciphertext too short');
	try {
		return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, bytes.subarray(NONCE_BYTES), ad, bytes.subarray(0, NONCE_BYTES), messageKey);
	} catch {
		throw new DecryptionError('message does not authenticate');
	}
}

function validHeader(header: RatchetHeader): boolean {
	const isU32 = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff_ffff;
	if (!isU32(header.n) || !isU32(header.pn) || typeof header.dh !== 'string') return false;
	try {
		fromB64Exact(header.dh, 32, 'header dh');
		return true;
	} catch {
		return false;
	}
}

function skipMessageKeys(sodium: Sodium, state: RatchetState, until: number): void {
	if (until - state.recvN > MAX_SKIP) throw new TooManySkippedError(`message is more than ${MAX_SKIP} ahead in its chain`);
	if (state.recvChain === null || state.dhRemote === null) return;
	let chain = fromB64(state.recvChain);
	while (state.recvN < until) {
		const next = kdfChainKey(sodium, chain);
		state.skipped.push({ dh: state.dhRemote, n: state.recvN, mk: toB64(next.messageKey) });
		chain = next.chainKey;
		state.recvN += 1;
	}
	state.recvChain = toB64(chain);
	if (state.skipped.length > MAX_SKIPPED_KEYS) state.skipped.splice(0, state.skipped.length - MAX_SKIPPED_KEYS);
}

function dhRatchetStep(sodium: Sodium, state: RatchetState, header: RatchetHeader): void {
	if (state.dhRemote !== null) {
		state.previousRemoteKeys.push(state.dhRemote);
		if (state.previousRemoteKeys.length > MAX_PREVIOUS_REMOTE_KEYS) state.previousRemoteKeys.shift();
	}
	state.prevSendN = state.sendN;
	state.sendN = 0;
	state.recvN = 0;
	state.dhRemote = header.dh;
	const receiving = kdfRootKey(sodium, fromB64(state.rootKey), dh(sodium, state.dhSelf.privateKey, header.dh));
	state.recvChain = toB64(receiving.chainKey);
	state.dhSelf = generateRatchetKey(sodium);
	const sending = kdfRootKey(sodium, receiving.rootKey, dh(sodium, state.dhSelf.privateKey, header.dh));
	state.rootKey = toB64(sending.rootKey);
	state.sendChain = toB64(sending.chainKey);
}

/**
 * Decrypts one message. Throws DecryptionError (tampered or foreign), DuplicateMessageError (its
 * key was used or discarded) or TooManySkippedError (more than MAX_SKIP ahead); the caller's state
 * is never modified, and the returned state must replace it only on success.
 */
export function ratchetDecrypt(
	sodium: Sodium,
	current: RatchetState,
	header: RatchetHeader,
	ciphertext: string
): { state: RatchetState; plaintext: Uint8Array } {
	if (!validHeader(header)) throw new DecryptionError('malformed ratchet header');
	const state = copyState(current);
	const ad = aeadAd(state, header);

	const skippedIndex = state.skipped.findIndex((key) => key.dh === header.dh && key.n === header.n);
	if (skippedIndex >= 0) {
		const plaintext = open(sodium, fromB64(state.skipped[skippedIndex]!.mk), ciphertext, ad);
		state.skipped.splice(skippedIndex, 1);
		return { state, plaintext };
	}

	if (header.dh === state.dhRemote) {
		if (header.n < state.recvN) throw new DuplicateMessageError('message key already used or discarded');
	} else if (state.previousRemoteKeys.includes(header.dh)) {
		throw new DuplicateMessageError('message key of a past chain already used or discarded');
	} else {
		skipMessageKeys(sodium, state, header.pn);
		dhRatchetStep(sodium, state, header);
	}
	skipMessageKeys(sodium, state, header.n);
	const { chainKey, messageKey } = kdfChainKey(sodium, fromB64(state.recvChain!));
	state.recvChain = toB64(chainKey);
	state.recvN += 1;
	const plaintext = open(sodium, messageKey, ciphertext, ad);
	sodium.memzero(messageKey);
	return { state, plaintext };
}
