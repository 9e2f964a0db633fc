// Presence of people whose sockets are on other nodes (cluster mode), as those nodes announce it
// over the bus (`presence` notices): per user and node, a status and the scopes (communities, DMs)
// whose members may see it. The hub combines it with its own sockets: online on any node is online
// everywhere. A node that leaves takes its users' entries with it.
import type { PresenceStatus } from '#lib/shared/protocol/frames.ts';
import type { NodePresence } from '#lib/server/events/bus.ts';
import { strongerPresence } from './presence-rank.ts';

export type PresenceScopes = { communities: Set<string>; dms: Set<string> };
type Entry = { status: Exclude<PresenceStatus, 'offline'>; scopes: PresenceScopes };

/** A user whose remote presence changed, with every scope that may need to hear of it (before and after). */
export type PresenceChange = { userId: string; scopes: PresenceScopes };

export class RemotePresence {
	/** userId → nodeId → entry. */
	#entries = new Map<string, Map<string, Entry>>();
	/** `community:<id>` / `dm:<id>` → users with an entry in that scope (for snapshots). */
	#byScope = new Map<string, Set<string>>();

	/** Applies a node's announcement; `full` replaces everything known of that node. */
	apply(nodeId: string, users: NodePresence[], full: boolean): PresenceChange[] {
		const changes = new Map<string, PresenceChange>();
		if (full) {
			const listed = new Set(users.map((u) => u.userId));
			for (const [userId, byNode] of this.#entries) if (byNode.has(nodeId) && !listed.has(userId)) this.#remove(userId, nodeId, changes);
		}
		for (const user of users) {
			if (user.status === 'offline') this.#remove(user.userId, nodeId, changes);
			else this.#set(user, nodeId, changes);
		}
		return [...changes.values()];
	}

	/** Forgets a node that left the cluster. */
	dropNode(nodeId: string): PresenceChange[] {
		const changes = new Map<string, PresenceChange>();
		for (const [userId, byNode] of [...this.#entries]) if (byNode.has(nodeId)) this.#remove(userId, nodeId, changes);
		return [...changes.values()];
	}

	/** The "most present" status of a user over the other nodes (online, then dnd, then idle). */
	statusOf(userId: string): PresenceStatus {
		const byNode = this.#entries.get(userId);
		if (!byNode) return 'offline';
		let best: PresenceStatus = 'offline';
		for (const entry of byNode.values()) best = strongerPresence(best, entry.status);
		return best;
	}

	/** Users present on other nodes in a scope. */
	usersIn(kind: 'community' | 'dm', id: string): Iterable<string> {
		return this.#byScope.get(`${kind}:${id}`) ?? [];
	}

	#set(user: NodePresence, nodeId: string, changes: Map<string, PresenceChange>) {
		let byNode = this.#entries.get(user.userId);
		if (!byNode) this.#entries.set(user.userId, (byNode = new Map()));
		const before = byNode.get(nodeId);
		const entry: Entry = { status: user.status as Entry['status'], scopes: { communities: new Set(user.communityIds), dms: new Set(user.dmChannelIds) } };
		byNode.set(nodeId, entry);
		if (before) this.#unindex(user.userId, before.scopes);
		this.#index(user.userId, entry.scopes);
		noteChange(changes, user.userId, entry.scopes, before?.scopes);
	}

	#remove(userId: string, nodeId: string, changes: Map<string, PresenceChange>) {
		const byNode = this.#entries.get(userId);
		const before = byNode?.get(nodeId);
		if (!byNode || !before) return;
		byNode.delete(nodeId);
		if (byNode.size === 0) this.#entries.delete(userId);
		this.#unindex(userId, before.scopes);
		noteChange(changes, userId, before.scopes);
	}

	#index(userId: string, scopes: PresenceScopes) {
		for (const key of scopeKeys(scopes)) {
			const users = this.#byScope.get(key);
			if (users) users.add(userId);
			else this.#byScope.set(key, new Set([userId]));
		}
	}

	/** Removes the user from scopes no other node's entry still places them in. */
	#unindex(userId: string, scopes: PresenceScopes) {
		const remaining = new Set<string>();
		for (const entry of this.#entries.get(userId)?.values() ?? []) for (const key of scopeKeys(entry.scopes)) remaining.add(key);
		for (const key of scopeKeys(scopes)) {
			if (remaining.has(key)) continue;
			const users = this.#byScope.get(key);
			users?.delete(userId);
			if (users?.size === 0) this.#byScope.delete(key);
		}
	}
}

function* scopeKeys(scopes: PresenceScopes): Iterable<string> {
	for (const id of scopes.communities) yield `community:${id}`;
	for (const id of scopes.dms) yield `dm:${id}`;
}

function noteChange(changes: Map<string, PresenceChange>, userId: string, ...scopeSets: Array<PresenceScopes | undefined>) {
	let change = changes.get(userId);
	if (!change) changes.set(userId, (change = { userId, scopes: { communities: new Set(), dms: new Set() } }));
	for (const scopes of scopeSets) {
		if (!scopes) continue;
		for (const id of scopes.communities) change.scopes.communities.add(id);
		for (const id of scopes.dms) change.scopes.dms.add(id);
	}
}
