import { redirect } from '@sveltejs/kit';
import { safeNextPath } from '#lib/shared/next-path.ts';
import type { LayoutServerLoad } from './$types';

/** Signed-in people have nothing to do on the sign-in and sign-up pages: send them on. */
export const load: LayoutServerLoad = ({ locals, url }) => {
	if (locals.user) redirect(303, safeNextPath(url.searchParams.get('next')));
};
