// The `presence` frame's compact form: user ids grouped by status, each status present only when
// someone has it. A connection's snapshot of a large community is the largest frame the server
// sends (5,000 members online: ~275 kB as { userId, status } objects, ~195 kB as grouped ids), and
// during a reconnect storm every returning socket gets one: writing them was the largest single
// cost of the storm (bench/README.md, "Where the CPU goes").
import type { PresenceStatus, ServerFrameOf } from './frames.ts';

export type PresenceFrame = ServerFrameOf<'presence'>;

const STATUSES: readonly PresenceStatus[] = ['online', 'idle', 'dnd', 'offline'];

/** The frame telling these users' statuses (one entry per user; the last one wins on repeats). */
export function presenceFrame(entries: Iterable<readonly [userId: string, status: PresenceStatus]>): PresenceFrame {
	const byStatus = new Map<PresenceStatus, string[]>();
	for (const [userId, status] of entries) {
		const ids = byStatus.get(status);
		if (ids) ids.push(userId);
		else byStatus.set(status, [userId]);
	}
	// `t` first: the bench's load generator recognises presence frames by their first bytes.
	const frame: PresenceFrame = { t: 'presence' };
	for (const status of STATUSES) {
		const ids = byStatus.get(status);
		if (ids) frame[status] = ids;
	}
	return frame;
}

/** Every user the frame tells about, with their status. */
export function presenceEntries(frame: PresenceFrame): Array<{ userId: string; status: PresenceStatus }> {
	return STATUSES.flatMap((status) => (frame[status] ?? []).map((userId) => ({ userId, status })));
}
