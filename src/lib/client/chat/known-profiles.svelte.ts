// The avatars and custom statuses this page knows, by user id, for every component that draws a
// person (Avatar, member list, member card). One registry for the page: the sources that carry
// profile fields (member lists, DM peers, one's own profile) teach it, and a source's silence
// about a field means the person has none (a removed avatar, a cleared status).
import type { CustomStatus } from '#lib/shared/profile.ts';
import type { UserView } from '#lib/shared/protocol/frames.ts';

class KnownProfiles {
	#avatars = $state<Record<string, string>>({});
	#statuses = $state<Record<string, CustomStatus>>({});
	/** Ticks every minute so expired statuses disappear without a refetch. */
	#now = $state(Date.now());

	constructor() {
		if (typeof window !== 'undefined') setInterval(() => (this.#now = Date.now()), 60_000);
	}

	avatarOf(userId: string): string | null {
		return this.#avatars[userId] ?? null;
	}

	/** The custom status to show now (null once expired, whatever the server said earlier). */
	statusOf(userId: string): CustomStatus | null {
		const status = this.#statuses[userId];
		if (!status) return null;
		if (status.expiresAt && Date.parse(status.expiresAt) <= this.#now) return null;
		return status;
	}

	/** From a UserView that carries profile fields (member lists, DM peers). */
	learn(user: UserView): void {
		this.set(user.id, user.avatarUrl ?? null, user.status ?? null);
	}

	set(userId: string, avatarUrl: string | null, status: CustomStatus | null): void {
		if (avatarUrl) {
			if (this.#avatars[userId] !== avatarUrl) this.#avatars[userId] = avatarUrl;
		} else if (userId in this.#avatars) delete this.#avatars[userId];
		if (status) {
			const known = this.#statuses[userId];
			if (!known || known.emoji !== status.emoji || known.text !== status.text || known.expiresAt !== status.expiresAt) this.#statuses[userId] = status;
		} else if (userId in this.#statuses) delete this.#statuses[userId];
		this.#now = Date.now();
	}
}

export const knownProfiles = new KnownProfiles();
