// The pieces of two-factor sign-in that need no server: codes at a fixed clock, the sealed secret,
// recovery codes, and who the instance's requirement covers from when.
import { describe, expect, it } from 'vitest';
import { generateHOTP } from '@oslojs/otp';
import { decodeBase32IgnorePadding } from '@oslojs/encoding';
import { matchTotp, newTotpSecret, normaliseTotpCode, totpKeyUri, totpSecretText, totpStep } from '#lib/server/auth/totp.ts';
import { SecretBox } from '#lib/server/auth/secret-box.ts';
import { hashRecoveryCode, newRecoveryCodes, normaliseRecoveryCode } from '#lib/server/auth/recovery-codes.ts';
import { reachableWhileBlocked, twoFactorStanding, type TwoFactorPolicy } from '#lib/server/auth/two-factor-policy.ts';

// RFC 6238 appendix B: the SHA-1 test secret, "12345678901234567890".
const RFC_SECRET = new TextEncoder().encode('12345678901234567890');
const code = (secret: Uint8Array, step: number) => generateHOTP(secret, BigInt(step), 6);

describe('TOTP codes at a fixed clock', () => {
	it('match the RFC 6238 test vectors (6 digits of the 8-digit ones)', () => {
		// T = 59 s → step 1, code 94287082; T = 1111111109 s → 07081804.
		expect(matchTotp(RFC_SECRET, '287082', 59_000)).toBe(1);
		expect(matchTotp(RFC_SECRET, '081804', 1_111_111_109_000)).toBe(totpStep(1_111_111_109_000));
	});

	it('accept the current step and the one before, and nothing older or ahead', () => {
		const secret = newTotpSecret();
		const now = 1_800_000_015_000; // 15 s into a step
		const step = totpStep(now);
		expect(matchTotp(secret, code(secret, step), now)).toBe(step);
		expect(matchTotp(secret, code(secret, step - 1), now)).toBe(step - 1);
		expect(matchTotp(secret, code(secret, step - 2), now)).toBeNull();
		expect(matchTotp(secret, code(secret, step + 1), now)).toBeNull();
	});

	it('refuse a code made from another secret', () => {
		const now = 1_800_000_015_000;
		expect(matchTotp(newTotpSecret(), code(newTotpSecret(), totpStep(now)), now)).toBeNull();
	});

	it('ignore spaces in typed codes and refuse anything but six digits', () => {
		expect(normaliseTotpCode(' 123 456 ')).toBe('123456');
		expect(normaliseTotpCode('12345')).toBeNull();
		expect(normaliseTotpCode('12345a')).toBeNull();
		expect(normaliseTotpCode('1234567')).toBeNull();
	});

	it('give apps the secret as base32 text and an otpauth URI carrying the same secret', () => {
		const secret = newTotpSecret();
		const text = totpSecretText(secret);
		expect(decodeBase32IgnorePadding(text)).toEqual(secret);
		const uri = new URL(totpKeyUri('Team Chat', 'ada', secret));
		expect(uri.protocol).toBe('otpauth:');
		expect(uri.searchParams.get('secret')).toBe(text);
		expect(uri.searchParams.get('issuer')).toBe('Team Chat');
		expect(uri.searchParams.get('period')).toBe('30');
		expect(uri.searchParams.get('digits')).toBe('6');
	});
});

describe('SecretBox', () => {
	const appSecret = new Uint8Array(32).fill(7);

	it('opens what it sealed for the same owner, and the sealed text does not contain the secret', () => {
		const box = new SecretBox(appSecret, 'totp-secret');
		const secret = newTotpSecret();
		const sealed = box.seal(secret, 'user-1');
		expect(sealed).not.toContain(Buffer.from(secret).toString('base64url'));
		expect(sealed).not.toContain(totpSecretText(secret));
		expect(box.open(sealed, 'user-1')).toEqual(secret);
	});

	it('refuses another owner, another key, another purpose and altered bytes', () => {
		const box = new SecretBox(appSecret, 'totp-secret');
		const sealed = box.seal(newTotpSecret(), 'user-1');
		expect(box.open(sealed, 'user-2')).toBeNull();
		expect(new SecretBox(new Uint8Array(32).fill(8), 'totp-secret').open(sealed, 'user-1')).toBeNull();
		expect(new SecretBox(appSecret, 'other').open(sealed, 'user-1')).toBeNull();
		const bytes = Buffer.from(sealed.slice(3), 'base64url');
		bytes[20]! ^= 1;
		expect(box.open(`v1.${bytes.toString('base64url')}`, 'user-1')).toBeNull();
		expect(box.open('garbage', 'user-1')).toBeNull();
	});
});

describe('recovery codes', () => {
	it('are ten distinct codes of four dash-separated groups', () => {
		const codes = newRecoveryCodes();
		expect(codes).toHaveLength(10);
		expect(new Set(codes).size).toBe(10);
		for (const c of codes) expect(c).toMatch(/^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);
	});

	it('hash the same whatever the case, dashes and spaces typed', () => {
		const [c] = newRecoveryCodes();
		const typed = ` ${c!.toUpperCase().replaceAll('-', ' ')} `;
		expect(hashRecoveryCode(normaliseRecoveryCode(typed)!)).toBe(hashRecoveryCode(normaliseRecoveryCode(c!)!));
		expect(normaliseRecoveryCode('too-short')).toBeNull();
	});
});

describe('two-factor requirement', () => {
	const now = new Date('2026-12-07T12:00:00Z');
	const since = new Date('2026-12-01T12:00:00Z');
	const admin = { instanceRole: 'admin' as const, createdAt: new Date('2026-01-01T00:00:00Z'), guest: false, twoFactor: false };
	const member = { ...admin, instanceRole: 'member' as const };
	const policy = (requirement: TwoFactorPolicy['requirement'], graceDays = 7): TwoFactorPolicy => ({ requirement, graceDays, requiredSince: since });

	it('covers nobody when off, admins and owners under "admins", everyone but guests under "everyone"', () => {
		expect(twoFactorStanding(admin, policy('off'), now).required).toBe(false);
		expect(twoFactorStanding(admin, policy('admins'), now).required).toBe(true);
		expect(twoFactorStanding({ ...admin, instanceRole: 'owner' }, policy('admins'), now).required).toBe(true);
		expect(twoFactorStanding(member, policy('admins'), now).required).toBe(false);
		expect(twoFactorStanding(member, policy('everyone'), now).required).toBe(true);
		expect(twoFactorStanding({ ...member, guest: true }, policy('everyone'), now).required).toBe(false);
	});

	it('blocks only after the grace period, counted from the requirement or the account, whichever is later', () => {
		expect(twoFactorStanding(admin, policy('admins', 7), now)).toEqual({ required: true, deadline: new Date('2026-12-08T12:00:00Z'), blocked: false });
		expect(twoFactorStanding(admin, policy('admins', 5), now)).toEqual({ required: true, deadline: new Date('2026-12-06T12:00:00Z'), blocked: true });
		const newcomer = { ...member, createdAt: new Date('2026-12-07T00:00:00Z') };
		expect(twoFactorStanding(newcomer, policy('everyone', 5), now).blocked).toBe(false);
		expect(twoFactorStanding({ ...admin, twoFactor: true }, policy('admins', 0), now)).toEqual({ required: true, deadline: null, blocked: false });
	});

	it('leaves a blocked person only their identity, the set-up, signing in and out', () => {
		for (const [method, path] of [
			['GET', '/api/me'],
			['GET', '/api/me/two-factor'],
			['POST', '/api/me/two-factor/totp'],
			['POST', '/api/me/two-factor/totp/confirm'],
			['POST', '/api/auth/sign-out'],
			['GET', '/api/csrf'],
			['GET', '/api/instance']
		] as const) {
			expect(reachableWhileBlocked(method, path), `${method} ${path}`).toBe(true);
		}
		for (const [method, path] of [
			['PATCH', '/api/me'],
			['GET', '/api/me/sessions'],
			['GET', '/api/communities'],
			['POST', '/api/me/password'],
			['GET', '/api/me/two-factorx']
		] as const) {
			expect(reachableWhileBlocked(method, path), `${method} ${path}`).toBe(false);
		}
	});
});
