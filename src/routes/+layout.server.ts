import type { LayoutServerLoad } from './$types';

/** Every page knows who is signed in (or that nobody is). */
export const load: LayoutServerLoad = ({ locals }) => ({ me: locals.user });
