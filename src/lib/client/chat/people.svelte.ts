// Names and member lists: who wrote a message, who belongs to a community (with roles), and the
// people met through direct messages. Member lists are fetched when a community is opened and
// refetched when someone joins, leaves or renames themselves.
import type { CommunityRole, Me, MemberView } from '#lib/shared/api-types.ts';
import type { UserView } from '#lib/shared/protocol/frames.ts';
import type { ApiClient } from '../api.ts';
import { knownProfiles } from './known-profiles.svelte.ts';

export class People {
	#users = $state<Record<string, UserView>>({});
	/** Members by community id, sorted by display name. */
	members = $state<Record<string, MemberView[]>>({});
	#api: ApiClient;
	#loading = new Map<string, Promise<void>>();

	constructor(api: ApiClient, me: Me) {
		this.#api = api;
		this.remember(me);
	}

	remember(user: UserView): void {
		const known = this.#users[user.id];
		if (!known || known.displayName !== user.displayName || known.username !== user.username) this.#users[user.id] = { ...user };
	}

	user(id: string): UserView | undefined {
		return this.#users[id];
	}

	name(id: string): string {
		return this.#users[id]?.displayName ?? 'Unknown user';
	}

	roleIn(communityId: string, userId: string): CommunityRole | undefined {
		return this.members[communityId]?.find((m) => m.user.id === userId)?.role;
	}

	/** Loads the member list once (concurrent callers share the request). */
	ensureMembers(communityId: string): Promise<void> {
		if (this.members[communityId]) return Promise.resolve();
		return this.loadMembers(communityId);
	}

	loadMembers(communityId: string): Promise<void> {
		let loading = this.#loading.get(communityId);
		if (!loading) {
			loading = this.#api
				.get<{ members: MemberView[] }>(`/api/communities/${communityId}/members`)
				.then(({ members }) => {
					for (const m of members) {
						this.remember(m.user);
						knownProfiles.learn(m.user);
					}
					this.members[communityId] = members;
				})
				.finally(() => this.#loading.delete(communityId));
			this.#loading.set(communityId, loading);
		}
		return loading;
	}

	/** Refetches the lists of communities already loaded (someone joined, left or was renamed). */
	refreshLoaded(communityId: string | null): void {
		const ids = communityId ? [communityId] : Object.keys(this.members);
		for (const id of ids) if (this.members[id]) void this.loadMembers(id).catch(() => {});
	}

	forget(communityId: string): void {
		delete this.members[communityId];
	}
}
