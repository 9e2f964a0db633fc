// The shapes of the browser's WebAuthn answers (@simplewebauthn/browser's JSON), checked before the
// library parses them: base64url strings of bounded length, nothing else. Unknown keys inside
// `response` (newer browsers add some) are dropped, not passed on.
import * as v from 'valibot';

/**
 * Bodies carrying a passkey answer are small: "none" attestation with an ES256 key is a few hundred
 * bytes. Post-quantum keys (ML-DSA, which Chromium's authenticators may pick) need a few kilobytes:
 * an ML-DSA-87 public key is 2.6 KB and its signature 4.6 KB.
 */
export const WEBAUTHN_BODY_MAX_BYTES = 32 * 1024;

const B64URL = /^[A-Za-z0-9_-]*$/;
const base64url = (max: number) => v.pipe(v.string('Send the passkey answer as the browser gave it.'), v.maxLength(max, 'The passkey answer is too large.'), v.regex(B64URL, 'Send the passkey answer as the browser gave it.'));

const common = {
	id: v.pipe(base64url(1400), v.minLength(1, 'Send the passkey answer as the browser gave it.')),
	rawId: base64url(1400),
	type: v.literal('public-key', 'Send the passkey answer as the browser gave it.'),
	authenticatorAttachment: v.optional(v.picklist(['platform', 'cross-platform'])),
	clientExtensionResults: v.record(v.string(), v.unknown())
};

export const RegistrationAnswer = v.object({
	...common,
	response: v.object({
		clientDataJSON: base64url(4096),
		attestationObject: base64url(16_384),
		transports: v.optional(v.pipe(v.array(v.picklist(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'])), v.maxLength(8)))
	})
});

export const AuthenticationAnswer = v.object({
	...common,
	response: v.object({
		clientDataJSON: base64url(4096),
		authenticatorData: base64url(4096),
		signature: base64url(8192),
		userHandle: v.optional(base64url(512))
	})
});
