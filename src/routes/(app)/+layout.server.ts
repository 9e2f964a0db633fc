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
	if (standingOf(locals.user, locals.app.services.instance.twoFactorPolicy()).blocked) redirect(303, '/two-factor-setup');
	return { me: locals.user };
};
