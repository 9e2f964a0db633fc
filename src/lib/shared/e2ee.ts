// The wire contract of end-to-end encryption between browsers and the server: device keys, prekey
// bundles, to-device messages (pairwise ciphertext the server queues for one device), the
// encrypted key backup. The server validates shapes and sizes and stores opaque strings; it never
// holds a private key, a session key or a plaintext. See docs/encryption.md.
//
// Encoding: every key, signature and ciphertext is base64url without padding (libsodium's
// URLSAFE_NO_PADDING), so values are safe in JSON, URLs and database text.
import * as v from 'valibot';

const B64URL = /^[A-Za-z0-9_-]+$/;

/** base64url (no padding) of exactly `bytes` bytes. */
function b64Bytes(bytes: number, label: string) {
	const length = Math.ceil((bytes * 4) / 3);
	return v.pipe(
		v.string(`${label} is a base64url string.`),
		v.length(length, `${label} must encode ${bytes} bytes.`),
		v.regex(B64URL, `${label} must be base64url without padding.`)
	);
}
/** base64url (no padding) of at most `maxChars` characters. */
function b64Text(maxChars: number, label: string) {
	return v.pipe(
		v.string(`${label} is a base64url string.`),
		v.minLength(1, `${label} is empty.`),
		v.maxLength(maxChars, `${label} is too large.`),
		v.regex(B64URL, `${label} must be base64url without padding.`)
	);
}

/** Ed25519 public key of a device: its identity. Its X25519 form (libsodium's conversion) is the DH identity. */
export const IdentityKey = b64Bytes(32, 'identityKey');
/** X25519 public key. */
export const CurvePublicKey = b64Bytes(32, 'publicKey');
/** Ed25519 signature. */
export const Signature = b64Bytes(64, 'signature');
/** Prekey ids are chosen by the device; unsigned 32-bit. */
export const PrekeyId = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffff_ffff));

/**
 * The signed prekey: X25519, signed with the device's identity key over
 * `SIGNED_PREKEY_CONTEXT` (UTF-8) followed by the 32 public-key bytes.
 */
export const SIGNED_PREKEY_CONTEXT = 'hearth:signed-prekey:v1';
export const SignedPrekey = v.strictObject({ id: PrekeyId, publicKey: CurvePublicKey, signature: Signature });
export type SignedPrekey = v.InferOutput<typeof SignedPrekey>;

export const OneTimePrekey = v.strictObject({ id: PrekeyId, publicKey: CurvePublicKey });
export type OneTimePrekey = v.InferOutput<typeof OneTimePrekey>;

/** Most one-time prekeys one upload may carry, and most a device may have stored on the server. */
export const ONE_TIME_PREKEYS_PER_UPLOAD = 100;
export const ONE_TIME_PREKEYS_MAX_STORED = 200;
/** Clients top their pool up when the server's count falls below this. */
export const ONE_TIME_PREKEYS_LOW_WATER = 20;

export const DeviceName = v.pipe(
	v.string(),
	v.trim(),
	v.minLength(1, 'A device name needs at least 1 character.'),
	v.maxLength(64, 'A device name can have at most 64 characters.'),
	v.check((s) => !/[\u0000-\u001f\u007f]/.test(s), 'A device name cannot contain control characters.')
);

/** POST /api/devices: the current session registers its browser as a device. */
export const RegisterDeviceRequest = v.strictObject({
	name: DeviceName,
	identityKey: IdentityKey,
	signedPrekey: SignedPrekey,
	oneTimePrekeys: v.pipe(v.array(OneTimePrekey), v.maxLength(ONE_TIME_PREKEYS_PER_UPLOAD)),
	/**
	 * The browser lost its keys (site storage cleared or evicted) while its session lives on: the
	 * session's old device, whose keys are gone, is revoked and this one takes its place.
	 */
	replaceCurrent: v.optional(v.boolean())
});
export type RegisterDeviceRequest = v.InferOutput<typeof RegisterDeviceRequest>;

/** A device as its owner sees it (GET /api/devices). */
export type OwnDeviceView = {
	id: string;
	name: string;
	identityKey: string;
	createdAt: string;
	lastSeenAt: string;
	/** The device of the session asking. */
	current: boolean;
};

/** A device as others see it: enough to verify and to encrypt to it. */
export type PublicDeviceView = { id: string; userId: string; identityKey: string; createdAt: string };

/** POST /api/keys/claim answer item: one one-time prekey is consumed per bundle (null when the pool is empty). */
export type PrekeyBundle = {
	deviceId: string;
	userId: string;
	identityKey: string;
	signedPrekey: SignedPrekey;
	oneTimePrekey: OneTimePrekey | null;
};

export const CLAIM_MAX_DEVICES = 500;
export const ClaimRequest = v.strictObject({
	devices: v.pipe(v.array(v.pipe(v.string(), v.uuid())), v.minLength(1), v.maxLength(CLAIM_MAX_DEVICES))
});

/** A to-device body is a pairwise ciphertext envelope (JSON text); the server never parses it. */
export const TO_DEVICE_BODY_MAX_CHARS = 16_384;
export const TO_DEVICE_BATCH_MAX = 1000;
export const SendToDeviceRequest = v.strictObject({
	messages: v.pipe(
		v.array(
			v.strictObject({
				deviceId: v.pipe(v.string(), v.uuid()),
				body: v.pipe(v.string(), v.minLength(1), v.maxLength(TO_DEVICE_BODY_MAX_CHARS))
			})
		),
		v.minLength(1),
		v.maxLength(TO_DEVICE_BATCH_MAX)
	)
});
export type SendToDeviceRequest = v.InferOutput<typeof SendToDeviceRequest>;

/** A queued to-device message as its recipient device receives it (REST page or /ws `to-device` frame). */
export type ToDeviceMessage = {
	/** Increasing per server; the recipient acknowledges up to an id and those rows are deleted. */
	id: number;
	senderUserId: string;
	senderDeviceId: string;
	body: string;
	createdAt: string;
};

/** Devices of everyone who can read a channel (community members or DM participants). */
export type ChannelDevicesView = { channelId: string; members: Array<{ userId: string; devices: PublicDeviceView[] }> };

/**
 * The key backup (one per user): a random backup key, wrapped with a key derived from the recovery
 * passphrase by Argon2id (libsodium crypto_pwhash), plus entries each encrypted with the backup key.
 * The server stores the wrapped key and the entries; without the passphrase they are noise.
 */
export const KeyBackupParams = v.strictObject({
	alg: v.literal('argon2id13'),
	salt: b64Bytes(16, 'salt'),
	opsLimit: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(16)),
	memLimit: v.pipe(v.number(), v.integer(), v.minValue(8 * 1024 * 1024), v.maxValue(1024 * 1024 * 1024))
});
export type KeyBackupParams = v.InferOutput<typeof KeyBackupParams>;
export const KeyBackupVersion = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(0x7fff_ffff));
export const PutKeyBackupRequest = v.strictObject({
	version: KeyBackupVersion,
	params: KeyBackupParams,
	/** secretbox(nonce ‖ ciphertext) of the 32-byte backup key. */
	wrappedKey: b64Text(200, 'wrappedKey')
});
export type KeyBackupView = v.InferOutput<typeof PutKeyBackupRequest> & { updatedAt: string; entryCount: number };

export const KEY_BACKUP_ENTRY_MAX_CHARS = 65_536;
export const KEY_BACKUP_BATCH_MAX = 500;
export const PutKeyBackupEntriesRequest = v.strictObject({
	version: KeyBackupVersion,
	entries: v.pipe(
		v.array(
			v.strictObject({
				/** Chosen by the client, e.g. a hash of the sender-key id; an upsert key, no meaning to the server. */
				id: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_:.-]{1,128}$/)),
				ciphertext: b64Text(KEY_BACKUP_ENTRY_MAX_CHARS, 'ciphertext')
			})
		),
		v.minLength(1),
		v.maxLength(KEY_BACKUP_BATCH_MAX)
	)
});
export type KeyBackupEntry = { id: string; ciphertext: string };
