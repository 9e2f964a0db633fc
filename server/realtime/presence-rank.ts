// How presence states combine when a person has sockets on several nodes of a cluster.
import type { PresenceStatus } from '#lib/shared/protocol/frames.ts';

/**
 * Over several nodes, the user shows the "most present" state: active somewhere is online; a
 * do-not-disturb choice (the same on every node) outranks idle; invisible is offline everywhere.
 */
const PRESENCE_RANK: Record<PresenceStatus, number> = { offline: 0, idle: 1, dnd: 2, online: 3 };

export function strongerPresence(a: PresenceStatus, b: PresenceStatus): PresenceStatus {
	return PRESENCE_RANK[a] >= PRESENCE_RANK[b] ? a : b;
}
