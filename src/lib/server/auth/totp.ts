// Time-based one-time codes (RFC 6238) as authenticator apps make them: 6 digits, 30-second steps,
// HMAC-SHA1 (the only algorithm every app supports), through @oslojs/otp. The clock is a parameter
// so tests can fix it.
import { createTOTPKeyURI, generateHOTP } from '@oslojs/otp';
import { encodeBase32UpperCaseNoPadding } from '@oslojs/encoding';
import { tokensEqual } from './tokens.ts';

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
// 160 bits, the HMAC-SHA1 block-size recommendation of RFC 4226 §4.
const SECRET_BYTES = 20;

export function newTotpSecret(): Uint8Array {
	return crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
}

/** The secret as people type it into an app that cannot scan the QR code. */
export function totpSecretText(secret: Uint8Array): string {
	return encodeBase32UpperCaseNoPadding(secret);
}

/** The otpauth:// URI the QR code carries. */
export function totpKeyUri(issuer: string, accountName: string, secret: Uint8Array): string {
	return createTOTPKeyURI(issuer, accountName, secret, TOTP_PERIOD_SECONDS, TOTP_DIGITS);
}

export function totpStep(nowMs: number): number {
	return Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS);
}

export function totpCodeAt(secret: Uint8Array, step: number): string {
	return generateHOTP(secret, BigInt(step), TOTP_DIGITS);
}

/** Spaces people type or paste between groups of digits are ignored; anything else must be digits. */
export function normaliseTotpCode(code: string): string | null {
	const digits = code.replace(/\s+/g, '');
	return /^\d{6}$/.test(digits) ? digits : null;
}

/**
 * The step a code belongs to when it is the current one or the one before (phones whose clock lags
 * and people who type slowly), else null. The caller refuses a step already used (replay). No step
 * ahead is accepted: a code is never valid before its time.
 */
export function matchTotp(secret: Uint8Array, code: string, nowMs: number): number | null {
	const current = totpStep(nowMs);
	let matched: number | null = null;
	// Both steps are always computed, so timing does not tell which one matched.
	for (const step of [current, current - 1]) {
		if (tokensEqual(totpCodeAt(secret, step), code) && matched === null) matched = step;
	}
	return matched;
}
