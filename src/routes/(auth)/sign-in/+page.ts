import { redirect } from '@sveltejs/kit';
import type { InstanceInfo } from '#lib/shared/api-types.ts';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ fetch, url }) => {
	const response = await fetch('/api/instance');
	const instance = response.ok ? ((await response.json()) as InstanceInfo) : null;
	// A brand-new server has no accounts to sign in to: its first visitor creates the owner account.
	if (instance?.needsSetup) redirect(307, `/sign-up${url.search}`);
	return { instance };
};
