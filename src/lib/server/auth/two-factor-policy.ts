// Who must use a second factor, and from when: the instance setting applied to one account. Pure,
// so every caller (request hook, /ws upgrade, the account's own status) agrees.
import type { Me } from '#lib/shared/api-types.ts';
import type { InstanceRole } from '../access.ts';

export type TwoFactorRequirement = 'off' | 'admins' | 'everyone';
export type TwoFactorPolicy = { requirement: TwoFactorRequirement; graceDays: number; requiredSince: Date | null };
export type TwoFactorStanding = {
	/** The instance requires a second factor of this account. */
	required: boolean;
	/** Until when it may still work without one (null: not required, or already has one). */
	deadline: Date | null;
	/** Required, missing, and the grace period is over: only setting it up (and signing out) is allowed. */
	blocked: boolean;
};

export function twoFactorStanding(
	account: { instanceRole: InstanceRole; createdAt: Date; guest: boolean; twoFactor: boolean },
	policy: TwoFactorPolicy,
	now: Date
): TwoFactorStanding {
	const applies =
		// Guests have no password and cannot sign in again: a second factor means nothing for them.
		!account.guest &&
		(policy.requirement === 'everyone' || (policy.requirement === 'admins' && account.instanceRole !== 'member'));
	if (!applies) return { required: false, deadline: null, blocked: false };
	if (account.twoFactor) return { required: true, deadline: null, blocked: false };
	// The grace period runs from when the requirement began, or from the account's creation if later.
	const since = Math.max(policy.requiredSince?.getTime() ?? 0, account.createdAt.getTime());
	const deadline = new Date(since + policy.graceDays * 86_400_000);
	return { required: true, deadline, blocked: now.getTime() >= deadline.getTime() };
}

/** The same for the signed-in person of a request (whose account dates come as ISO strings). */
export function standingOf(me: Me, policy: TwoFactorPolicy, now = new Date()): TwoFactorStanding {
	return twoFactorStanding({ ...me, createdAt: new Date(me.createdAt) }, policy, now);
}

// What a person past the deadline without a second factor may still reach: who they are, setting
// the second factor up, signing out, and what the sign-in pages read. Everything else answers
// 403 two_factor_required.
const REACHABLE_WHILE_BLOCKED = [/^\/api\/me$/, /^\/api\/me\/two-factor(\/.*)?$/, /^\/api\/auth\//, /^\/api\/csrf$/, /^\/api\/instance(\/icon)?$/];

export function reachableWhileBlocked(method: string, pathname: string): boolean {
	// Their profile they may read, not change.
	if (pathname === '/api/me' && method !== 'GET') return false;
	return REACHABLE_WHILE_BLOCKED.some((pattern) => pattern.test(pathname));
}

export const TWO_FACTOR_REQUIRED_MESSAGE = 'This server requires two-factor authentication. Set it up in Settings → Security to continue.';
