// The people this user blocked: their messages are collapsed, their mentions neither count nor
// notify, and direct messages with them are refused by the server both ways. Loaded once per page;
// changed from a member's card and from Settings → Blocked people.
import { SvelteSet } from 'svelte/reactivity';
import type { UserView } from '#lib/shared/protocol/frames.ts';
import type { ApiClient } from '../api.ts';

export class BlockList {
	users = $state.raw<UserView[]>([]);
	loaded = $state(false);
	#ids = new SvelteSet<string>();
	#api: ApiClient;

	constructor(api: ApiClient) {
		this.#api = api;
	}

	has(userId: string): boolean {
		return this.#ids.has(userId);
	}

	async load(): Promise<void> {
		const { users } = await this.#api.get<{ users: UserView[] }>('/api/me/blocks');
		this.#set(users);
		this.loaded = true;
	}

	async block(user: UserView): Promise<void> {
		await this.#api.put(`/api/users/${user.id}/block`);
		if (!this.#ids.has(user.id)) this.#set([...this.users, user]);
	}

	async unblock(userId: string): Promise<void> {
		await this.#api.delete(`/api/users/${userId}/block`);
		this.#set(this.users.filter((u) => u.id !== userId));
	}

	#set(users: UserView[]) {
		this.users = users;
		this.#ids.clear();
		for (const user of users) this.#ids.add(user.id);
	}
}
