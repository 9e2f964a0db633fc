// Who may do what in a call. Kept in these two functions so the rules can move to the permission
// model in src/lib/server/access.ts in one place.
import { accessChannel, requireCommunityManager, type ChannelAccess } from '#lib/server/access.ts';
import type { Executor } from '#lib/server/db/open.ts';
import { invalid } from '#lib/server/errors.ts';

/** Members of the voice channel's community; anyone else is answered as for a missing channel. */
export async function accessCall(db: Executor, userId: string, channelId: string): Promise<ChannelAccess> {
	const access = await accessChannel(db, userId, channelId);
	if (access.channel.kind !== 'voice') throw invalid('Only voice channels have calls.');
	return access;
}

/** Muting or removing someone else: the community's owners and admins. */
export function requireCallModerator(access: ChannelAccess): void {
	requireCommunityManager(access);
}
