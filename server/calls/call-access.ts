// Who may do what in a call, on top of the community permission model (src/lib/server/access.ts).
import { and, eq, isNull } from 'drizzle-orm';
import { accessChannel, requirePermission, type ChannelAccess } from '#lib/server/access.ts';
import type { Executor } from '#lib/server/db/open.ts';
import { devices, sessions } from '#lib/server/db/schema.ts';
import { invalid } from '#lib/server/errors.ts';

/** Members of the voice channel's community; anyone else is answered as for a missing channel. */
export async function accessCall(db: Executor, userId: string, channelId: string): Promise<ChannelAccess> {
	const access = await accessChannel(db, userId, channelId);
	if (access.channel.kind !== 'voice') throw invalid('Only voice channels have calls.');
	return access;
}

/**
 * Muting someone else is a timeout of their voice, removing them is a kick from the call: the same
 * permissions as in text (moderators and up, or a custom role that grants them).
 */
export function requireCallModerator(access: ChannelAccess, action: 'mute' | 'unmute' | 'remove'): void {
	requirePermission(access, action === 'remove' ? 'kick' : 'timeout');
}

/**
 * The encryption device of the session a connection signed in with (null: none registered, or
 * revoked). Participants hand their call media keys to this device over pairwise sessions, so it
 * is read at every join (a device registered after the socket opened counts).
 */
export async function callDevice(db: Executor, sessionId: string): Promise<string | null> {
	const [row] = await db
		.select({ deviceId: devices.id })
		.from(sessions)
		.innerJoin(devices, eq(devices.id, sessions.deviceId))
		.where(and(eq(sessions.id, sessionId), isNull(devices.revokedAt)));
	return row?.deviceId ?? null;
}
