import type { InstanceInfo } from '#lib/shared/api-types.ts';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ fetch }) => {
	const response = await fetch('/api/instance');
	return { instance: response.ok ? ((await response.json()) as InstanceInfo) : null };
};
