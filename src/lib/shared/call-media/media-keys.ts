// The rules of call media keys. Each participant device has its own sending key, a random 16-byte
// SFrame base key with a key id (KID) counting up from 0 for this device in this call. It reaches
// the other devices only over the pairwise encrypted sessions (to-device messages), bound to the
// call, the sending device and the KID (the payload: call-media-key.ts in the e2ee client).
//
// - Someone joins: every sender ratchets its key forward (HKDF, one-way) under the next KID and
//   hands only the ratcheted key to the joiner. Those already in the call derive the same key
//   themselves when they first see the new KID, so nothing is sent to them. The joiner cannot
//   compute what came before.
// - Someone leaves or is removed: every sender makes a fresh random key under the next KID, sends
//   it to those who remain, and starts sending with it KEY_SWITCH_DELAY_MS later, once it has most
//   likely arrived. The one who left never gets it and cannot ratchet to it.
// - A receiver keeps an older KID of a sender for PREVIOUS_KEY_GRACE_MS after the sender's first
//   frame under a newer one (late and reordered frames), then forgets it.
//
// Pure apart from WebCrypto and the clock, which the callers pass in (`now`), so the rules are
// unit-tested without timers.
import { deriveSFrameKey, type SFrameKey } from './sframe.ts';

export const MEDIA_KEY_BYTES = 16;
/**
 * How long after a leave senders keep the old key: the new key travels over /ws as a to-device
 * message per recipient (one round trip to the server and one push, tens of milliseconds on a
 * healthy link); a second leaves room for a slow link without leaving the one who left able to
 * decrypt for long. Element Call waits about as long.
 */
export const KEY_SWITCH_DELAY_MS = 1_000;
/** Late frames: the jitter buffer holds at most a few hundred milliseconds; two seconds is ample. */
export const PREVIOUS_KEY_GRACE_MS = 2_000;
/**
 * How many ratchet steps a receiver tries ahead of the newest key it knows. Each join costs one
 * step; several people joining while a frame is in flight cost several. A receiver further behind
 * than this waits for a key sent to it.
 */
export const RATCHET_WINDOW = 16;

type Bytes = Uint8Array<ArrayBuffer>;

export function randomMediaKey(): Bytes {
	return crypto.getRandomValues(new Uint8Array(MEDIA_KEY_BYTES));
}

const RATCHET_INFO = new TextEncoder().encode('hearth call media key ratchet v1');

/** One ratchet step: HKDF-SHA-256 of the base key with a fixed label. One-way. */
export async function ratchetMediaKey(baseKey: Uint8Array): Promise<Bytes> {
	const ikm = await crypto.subtle.importKey('raw', new Uint8Array(baseKey), 'HKDF', false, ['deriveBits']);
	const bits = await crypto.subtle.deriveBits(
		{ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: RATCHET_INFO },
		ikm,
		MEDIA_KEY_BYTES * 8
	);
	return new Uint8Array(bits);
}

/** A key as it is handed to other devices: the KID and the raw base key. */
export type MediaKeyGrant = { kid: number; key: Bytes };

type SendingKey = { kid: number; base: Bytes; sframe: SFrameKey; activeFrom: number };

async function sendingKey(kid: number, base: Bytes, activeFrom: number): Promise<SendingKey> {
	return { kid, base, sframe: await deriveSFrameKey(base, kid), activeFrom };
}

/** This device's sending key in one call. */
export class OutboundMediaKeys {
	#current: SendingKey;
	/** A key made after a leave, sent to the others but not yet used for sending. */
	#pending: SendingKey | null = null;
	#nextKid: number;
	/** Frames sent under the current key: the SFrame counter, so no nonce repeats under a key. */
	#counter = 0;

	private constructor(current: SendingKey) {
		this.#current = current;
		this.#nextKid = current.kid + 1;
	}

	static async create(now: number, firstKid = 0): Promise<OutboundMediaKeys> {
		return new OutboundMediaKeys(await sendingKey(firstKid, randomMediaKey(), now));
	}

	/** The key others need now to decrypt what this device sends: the pending one if any. */
	newest(): MediaKeyGrant {
		const key = this.#pending ?? this.#current;
		return { kid: key.kid, key: key.base };
	}

	/** Every key others may still see frames under (current and pending): for a late recipient. */
	all(): MediaKeyGrant[] {
		return [this.#current, ...(this.#pending ? [this.#pending] : [])].map((key) => ({ kid: key.kid, key: key.base }));
	}

	/**
	 * Someone joined: the newest key ratchets one step under the next KID. Returns the key to hand
	 * to the joiner (only it: the others ratchet by themselves). A ratcheted current key is used at
	 * once; a ratcheted pending key keeps its switch time.
	 */
	async ratchetForJoin(now: number): Promise<MediaKeyGrant> {
		const newest = this.#pending ?? this.#current;
		const next = await sendingKey(this.#nextKid++, await ratchetMediaKey(newest.base), Math.max(newest.activeFrom, now));
		if (this.#pending) this.#pending = next;
		else this.#switchTo(next);
		return { kid: next.kid, key: next.base };
	}

	/**
	 * Someone left or was removed: a fresh random key under the next KID, used from
	 * now + KEY_SWITCH_DELAY_MS. A pending key is replaced (the one who left may have received it).
	 * Returns the key to send to everyone who remains.
	 */
	async rotateForLeave(now: number): Promise<MediaKeyGrant> {
		this.#pending = await sendingKey(this.#nextKid++, randomMediaKey(), now + KEY_SWITCH_DELAY_MS);
		return { kid: this.#pending.kid, key: this.#pending.base };
	}

	/** The key and counter for the next frame sent at `now`; switches to a pending key when due. */
	next(now: number): { key: SFrameKey; ctr: number } {
		if (this.#pending && now >= this.#pending.activeFrom) {
			this.#switchTo(this.#pending);
			this.#pending = null;
		}
		return { key: this.#current.sframe, ctr: this.#counter++ };
	}

	/** The KID frames are sent under at `now` (without consuming a counter). */
	sendingKid(now: number): number {
		return this.#pending && now >= this.#pending.activeFrom ? this.#pending.kid : this.#current.kid;
	}

	#switchTo(key: SendingKey): void {
		this.#current = key;
		this.#counter = 0;
	}
}

type ReceivingKey = { base: Bytes; sframe: Promise<SFrameKey>; retireAt: number | null };

/** The keys of one sending device in one call, as this device receives them. */
export class InboundMediaKeys {
	readonly #keys = new Map<number, ReceivingKey>();
	/** The newest KID a frame has been decrypted with: older ones retire after the grace period. */
	#inUse = -1;

	/** A key granted over a pairwise session. */
	add(grant: MediaKeyGrant): void {
		// A KID already known keeps its first key; one older than the KID in use comes too late.
		if (this.#keys.has(grant.kid) || grant.kid < this.#inUse) return;
		this.#keys.set(grant.kid, { base: new Uint8Array(grant.key), sframe: deriveSFrameKey(grant.key, grant.kid), retireAt: null });
	}

	has(kid: number): boolean {
		return this.#keys.has(kid);
	}

	/**
	 * The key for a frame under `kid` at `now`: a known key not yet retired, or one derived by
	 * ratcheting the newest known key forward (at most RATCHET_WINDOW steps). Undefined otherwise.
	 * A derived key is only a candidate: `confirm` keeps it once a frame decrypted with it.
	 */
	async keyFor(kid: number, now: number): Promise<SFrameKey | undefined> {
		this.#expire(now);
		const known = this.#keys.get(kid);
		if (known) return known.sframe;
		const base = await this.#ratchetedTo(kid);
		return base ? deriveSFrameKey(base, kid) : undefined;
	}

	/**
	 * A frame under `kid` decrypted: keep a ratcheted key, and start the grace period of every older
	 * KID (the sender has moved on).
	 */
	async confirm(kid: number, now: number): Promise<void> {
		if (!this.#keys.has(kid)) {
			const base = await this.#ratchetedTo(kid);
			if (!base) return;
			this.#keys.set(kid, { base, sframe: deriveSFrameKey(base, kid), retireAt: null });
		}
		if (kid <= this.#inUse) return;
		this.#inUse = kid;
		for (const [other, key] of this.#keys) if (other < kid && key.retireAt === null) key.retireAt = now + PREVIOUS_KEY_GRACE_MS;
	}

	/** KIDs currently held (tests, diagnostics). */
	kids(now: number): number[] {
		this.#expire(now);
		return [...this.#keys.keys()].sort((a, b) => a - b);
	}

	/** The newest known key ratcheted forward to `kid`, when `kid` is within the window ahead of it. */
	async #ratchetedTo(kid: number): Promise<Bytes | undefined> {
		const newest = this.#newestKnown();
		if (newest === undefined || kid <= newest || kid - newest > RATCHET_WINDOW) return undefined;
		let base = this.#keys.get(newest)!.base;
		for (let step = newest; step < kid; step++) base = await ratchetMediaKey(base);
		return base;
	}

	#newestKnown(): number | undefined {
		let newest: number | undefined;
		for (const kid of this.#keys.keys()) if (newest === undefined || kid > newest) newest = kid;
		return newest;
	}

	#expire(now: number): void {
		for (const [kid, key] of this.#keys) if (key.retireAt !== null && now >= key.retireAt) this.#keys.delete(kid);
	}
}
