import type { InvitePreview } from '#lib/shared/api-types.ts';
import type { PageLoad } from './$types';

/** The public preview: which community the invite leads to, before anyone signs in. */
export const load: PageLoad = async ({ fetch, params }) => {
	const response = await fetch(`/api/invites/${encodeURIComponent(params.code)}`);
	if (response.ok) return { preview: (await response.json()) as InvitePreview };
	const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
	return {
		preview: {
			code: params.code,
			valid: false,
			reason: body?.error?.message ?? 'This invite does not exist.',
			community: null,
			instanceName: 'Hearth',
			guestAccess: false
		} satisfies InvitePreview
	};
};
