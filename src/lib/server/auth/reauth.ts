// Re-authentication for risky instance-admin actions (disabling or deleting an account, changing
// its server role): the request carries the admin's current password, checked here. A stolen or
// left-open session alone cannot then take over or lock out accounts. Wrong passwords count
// against the same throttle as sign-in, so this is no side door for guessing.
import { eq } from 'drizzle-orm';
import type { Executor } from '../db/open.ts';
import { users } from '../db/schema.ts';
import { forbidden, rateLimited, unauthenticated, type AppError } from '../errors.ts';
import { verifyPassword } from './password.ts';
import type { SignInThrottle } from './throttle.ts';

export const REAUTH_MISSING = 'Enter your current password to confirm this action.';
export const REAUTH_WRONG = 'Your password is not correct.';

/**
 * Checks a signed-in person's own password again, under the sign-in throttle: a wrong one counts as
 * a failed sign-in, and a throttled person is refused before the (slow) hash is computed. Shared by
 * re-authentication and password changes; each says in its own words what went wrong.
 */
export async function checkOwnPassword(
	db: Executor,
	throttle: SignInThrottle,
	actor: { id: string; ip: string },
	password: string,
	refusals: { wrong: () => AppError; throttled: (waitMs: number) => AppError }
): Promise<void> {
	const [row] = await db.select({ username: users.username, passwordHash: users.passwordHash }).from(users).where(eq(users.id, actor.id));
	if (!row) throw unauthenticated();
	const wait = await throttle.retryAfter(actor.ip, row.username);
	if (wait > 0) throw refusals.throttled(wait);
	if (!(await verifyPassword(row.passwordHash, password))) {
		await throttle.recordFailure(actor.ip, row.username);
		throw refusals.wrong();
	}
}

export async function requireReauthentication(
	db: Executor,
	throttle: SignInThrottle,
	actor: { id: string; ip: string },
	password: string | undefined
): Promise<void> {
	if (!password) throw forbidden(REAUTH_MISSING);
	await checkOwnPassword(db, throttle, actor, password, {
		wrong: () => forbidden(REAUTH_WRONG),
		throttled: (wait) => rateLimited(wait, 'Too many wrong passwords. Wait a moment and try again.')
	});
}
