// Recovery codes: the way in when the authenticator app is lost. Ten per set, each 80 random bits
// (16 base32 characters shown as four groups), so a plain SHA-256 is safe to store: no offline
// guessing can enumerate 2^80 candidates. Single use is enforced where they are redeemed.
import { sha256 } from '@oslojs/crypto/sha2';
import { encodeBase32LowerCaseNoPadding, encodeHexLowerCase } from '@oslojs/encoding';

export const RECOVERY_CODE_COUNT = 10;

export function newRecoveryCodes(): string[] {
	return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
		const text = encodeBase32LowerCaseNoPadding(crypto.getRandomValues(new Uint8Array(10)));
		return text.match(/.{4}/g)!.join('-');
	});
}

/** Case, dashes and spaces do not matter; null when it cannot be a recovery code at all. */
export function normaliseRecoveryCode(code: string): string | null {
	const text = code.toLowerCase().replace(/[\s-]+/g, '');
	return /^[a-z2-7]{16}$/.test(text) ? text : null;
}

export function hashRecoveryCode(normalised: string): string {
	return encodeHexLowerCase(sha256(new TextEncoder().encode(`hearth-recovery\0${normalised}`)));
}
