import { redirect } from '@sveltejs/kit';
import { signInPath } from '#lib/shared/next-path.ts';
import { standingOf } from '#lib/server/auth/two-factor-policy.ts';
import type { LayoutServerLoad } from './$types';

/**
 * The app is for signed-in people; others sign in first and come back here. Someone the server
 * requires a second factor of, past the grace period without one, sets it up first.
 */
export const load: LayoutServerLoad = ({ locals, url }) => {
	if (!locals.user) redirect(303, signInPath(url.pathname + url.search));
	const standing = standingOf(locals.user, locals.app.services.instance.twoFactorPolicy());
	if (standing.blocked) redirect(303, '/two-factor-setup');
	// In the grace period: the shell shows until when (TwoFactorBanner).
	return { me: locals.user, twoFactorDeadline: standing.deadline?.toISOString() ?? null };
};
