import { redirect } from '@sveltejs/kit';
import { signInPath } from '#lib/shared/next-path.ts';
import { standingOf } from '#lib/server/auth/two-factor-policy.ts';
import type { PageServerLoad } from './$types';

/**
 * Where the app sends someone the server requires a second factor of, once the grace period is
 * over: setting it up (or signing out) is all they can do until it is on. Outside the app's layout,
 * which would open the realtime connection the server refuses them.
 */
export const load: PageServerLoad = ({ locals }) => {
	if (!locals.user) redirect(303, signInPath('/two-factor-setup'));
	if (!standingOf(locals.user, locals.app.services.instance.twoFactorPolicy()).blocked) redirect(303, '/settings#security');
	return { me: locals.user };
};
