import { redirect } from '@sveltejs/kit';
import { signInPath } from '#lib/shared/next-path.ts';
import type { LayoutServerLoad } from './$types';

/** The app is for signed-in people; others sign in first and come back here. */
export const load: LayoutServerLoad = ({ locals, url }) => {
	if (!locals.user) redirect(303, signInPath(url.pathname + url.search));
	return { me: locals.user };
};
