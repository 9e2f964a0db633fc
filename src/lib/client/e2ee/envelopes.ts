// Wire shapes of encrypted payloads, parsed with runtime schemas that reject unknown keys:
// - the pairwise envelope (Double Ratchet message, JSON text), carried by to-device messages and
//   inside direct-message payloads;
// - message payloads: `hearth.sk.v1` (channels and group DMs, sender keys) and `hearth.dm.v1`
//   (1:1 direct messages, a content key wrapped per device);
// - the plaintext of to-device messages (`sender-key`, `sender-key-request`, `call-media-key`,
//   `call-media-key-request`).
// The server never parses these; only clients do.
import * as v from 'valibot';
import { CurvePublicKey, IdentityKey, PrekeyId, Signature, TO_DEVICE_BODY_MAX_CHARS } from '#lib/shared/e2ee.ts';
import { DecryptionError } from './errors.ts';

const B64URL = /^[A-Za-z0-9_-]+$/;
function b64Bytes(bytes: number) {
	return v.pipe(v.string(), v.length(Math.ceil((bytes * 4) / 3)), v.regex(B64URL));
}
function b64Text(maxChars: number) {
	return v.pipe(v.string(), v.minLength(1), v.maxLength(maxChars), v.regex(B64URL));
}
const Uuid = v.pipe(v.string(), v.uuid());
const U32 = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffff_ffff));

/** A random 16-byte sender-key id. */
export const SenderKeyId = b64Bytes(16);
export const Nonce24 = b64Bytes(24);
export const Key32 = b64Bytes(32);

/** Most characters of a message ciphertext; the server enforces the real (configurable) payload limit. */
const MESSAGE_CIPHERTEXT_MAX_CHARS = 1_400_000;
/** Most devices one direct message is wrapped for (both participants' devices). */
export const DM_MAX_RECIPIENT_DEVICES = 200;

export const RatchetHeaderSchema = v.strictObject({ dh: CurvePublicKey, pn: U32, n: U32 });

export const PairwiseMessageEnvelope = v.strictObject({
	v: v.literal(1),
	t: v.literal('msg'),
	/** The sender's Ed25519 identity key. */
	ik: IdentityKey,
	h: RatchetHeaderSchema,
	c: b64Text(TO_DEVICE_BODY_MAX_CHARS)
});
/** Sent by the initiator until it has received a reply: carries what the responder needs for X3DH. */
export const PairwisePrekeyEnvelope = v.strictObject({
	...PairwiseMessageEnvelope.entries,
	t: v.literal('prekey'),
	ek: CurvePublicKey,
	spk: PrekeyId,
	otk: v.optional(PrekeyId)
});
export const PairwiseEnvelope = v.variant('t', [PairwiseMessageEnvelope, PairwisePrekeyEnvelope]);
export type PairwiseEnvelope = v.InferOutput<typeof PairwiseEnvelope>;
export type PairwisePrekeyEnvelope = v.InferOutput<typeof PairwisePrekeyEnvelope>;

export const SENDER_KEY_SCHEME = 'hearth.sk.v1';
export const DM_SCHEME = 'hearth.dm.v1';

export const SenderKeyPayload = v.strictObject({
	e: v.literal(SENDER_KEY_SCHEME),
	/** Sending device id. */
	dev: Uuid,
	sk: SenderKeyId,
	/** Iteration of the sender's chain. */
	i: U32,
	n: Nonce24,
	c: b64Text(MESSAGE_CIPHERTEXT_MAX_CHARS),
	sig: Signature
});
export type SenderKeyPayload = v.InferOutput<typeof SenderKeyPayload>;

export const DmPayload = v.strictObject({
	e: v.literal(DM_SCHEME),
	dev: Uuid,
	n: Nonce24,
	c: b64Text(MESSAGE_CIPHERTEXT_MAX_CHARS),
	/** The content key, in a pairwise envelope per recipient device id. */
	k: v.pipe(
		v.record(Uuid, PairwiseEnvelope),
		v.check((k) => Object.keys(k).length <= DM_MAX_RECIPIENT_DEVICES, 'too many recipient devices')
	)
});
export type DmPayload = v.InferOutput<typeof DmPayload>;

export const EncryptedPayload = v.variant('e', [SenderKeyPayload, DmPayload]);
export type EncryptedPayload = v.InferOutput<typeof EncryptedPayload>;

function parseJson(text: string): unknown {
	try {
		return JSON.parse(text) as unknown;
	} catch {
		throw new DecryptionError('not JSON');
	}
}

function parseWith<T extends v.GenericSchema>(schema: T, input: unknown, what: string): v.InferOutput<T> {
	const data = typeof input === 'string' ? parseJson(input) : input;
	const result = v.safeParse(schema, data);
	if (!result.success) throw new DecryptionError(`malformed ${what}`);
	return result.output;
}

/** Parses a pairwise envelope (JSON text or already parsed); throws DecryptionError on any other shape. */
export function parsePairwiseEnvelope(input: unknown): PairwiseEnvelope {
	return parseWith(PairwiseEnvelope, input, 'pairwise envelope');
}

/** Parses a message payload of a known encryption scheme; throws DecryptionError otherwise. */
export function parseEncryptedPayload(payload: string): EncryptedPayload {
	return parseWith(EncryptedPayload, payload, 'encrypted payload');
}

/**
 * Whether a message payload claims an encryption scheme (a JSON object with a string `e`), known or
 * not. Such a payload is never rendered as text: it decrypts, or shows as undecryptable.
 */
export function isEncryptedPayload(payload: string): boolean {
	if (!payload.startsWith('{')) return false;
	try {
		const data = JSON.parse(payload) as unknown;
		return typeof data === 'object' && data !== null && !Array.isArray(data) && typeof (data as { e?: unknown }).e === 'string';
	} catch {
		return false;
	}
}

// --- to-device plaintexts ---------------------------------------------------------------------

/** Distribution of a sender key over a pairwise session: what a recipient needs to read the sender's messages from `iteration` on. */
export const SenderKeyDistribution = v.strictObject({
	kind: v.literal('sender-key'),
	channelId: Uuid,
	senderKeyId: SenderKeyId,
	chainKey: Key32,
	iteration: U32,
	/** Ed25519 public key that signs every message of this sender key. */
	signingKey: IdentityKey
});
export type SenderKeyDistribution = v.InferOutput<typeof SenderKeyDistribution>;

/** "I cannot decrypt your message with this key; please share it again if I may read the channel." */
export const SenderKeyRequest = v.strictObject({
	kind: v.literal('sender-key-request'),
	channelId: Uuid,
	senderDeviceId: Uuid,
	senderKeyId: SenderKeyId
});
export type SenderKeyRequest = v.InferOutput<typeof SenderKeyRequest>;

/**
 * Call media keys of the sending device (SFrame base keys, src/lib/shared/call-media/media-keys.ts),
 * for one call. `deviceId` must be the device the pairwise session authenticates, and the receiver
 * takes them only for the call (`callId`) it is in: a key is bound to call, sending device and KID.
 */
export const CallMediaKeyGrant = v.strictObject({
	kind: v.literal('call-media-key'),
	channelId: Uuid,
	callId: Uuid,
	deviceId: Uuid,
	/** Current and pending keys: at most two are live at once; a little room for a burst of changes. */
	keys: v.pipe(
		v.array(v.strictObject({ kid: v.pipe(v.number(), v.safeInteger(), v.minValue(0)), key: b64Bytes(16) })),
		v.minLength(1),
		v.maxLength(4)
	)
});
export type CallMediaKeyGrant = v.InferOutput<typeof CallMediaKeyGrant>;

/** "I receive frames from your device in this call under a key I do not have: send me your current keys." */
export const CallMediaKeyRequest = v.strictObject({
	kind: v.literal('call-media-key-request'),
	channelId: Uuid,
	callId: Uuid,
	/** The asking device (must be the device the pairwise session authenticates). */
	deviceId: Uuid
});
export type CallMediaKeyRequest = v.InferOutput<typeof CallMediaKeyRequest>;

export const ToDeviceContent = v.variant('kind', [SenderKeyDistribution, SenderKeyRequest, CallMediaKeyGrant, CallMediaKeyRequest]);
export type ToDeviceContent = v.InferOutput<typeof ToDeviceContent>;

/** Parses the decrypted plaintext of a to-device message; unknown kinds (including the reserved `backup-key`) are refused. */
export function parseToDeviceContent(plaintext: string): ToDeviceContent {
	return parseWith(ToDeviceContent, plaintext, 'to-device content');
}
