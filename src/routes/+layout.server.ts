import type { LayoutServerLoad } from './$types';

/** Every page knows who is signed in (or that nobody is), and the instance's name and icon (cached, no query). */
export const load: LayoutServerLoad = ({ locals }) => ({ me: locals.user, branding: locals.app.services.instance.branding() });
