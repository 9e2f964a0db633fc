// The signed-in person's own profile (avatar, bio, pronouns, custom status) as the settings page
// and the user bar show it: loaded once, changed through the REST API, and taught to the page's
// registry of known profiles so every avatar of this person updates at once.
import { statusExpiry, type CustomStatus, type OwnProfile, type StatusDuration } from '#lib/shared/profile.ts';
import type { ApiClient } from '../api.ts';
import { knownProfiles } from '../chat/known-profiles.svelte.ts';

export class OwnProfileState {
	avatarUrl = $state<string | null>(null);
	bio = $state('');
	pronouns = $state('');
	status = $state<CustomStatus | null>(null);
	loaded = $state(false);
	#api: ApiClient;
	#userId: string;
	#onPresence: (profile: OwnProfile) => void;

	constructor(api: ApiClient, userId: string, onPresence: (profile: OwnProfile) => void) {
		this.#api = api;
		this.#userId = userId;
		this.#onPresence = onPresence;
	}

	async load(): Promise<void> {
		const { profile } = await this.#api.get<{ profile: OwnProfile }>('/api/me/profile');
		this.#apply(profile);
		this.#onPresence(profile);
	}

	async saveDetails(details: { bio: string; pronouns: string }): Promise<void> {
		this.#apply((await this.#api.patch<{ profile: OwnProfile }>('/api/me/profile', details)).profile);
	}

	/** Uploads an already cropped square picture (the server checks its bytes and size). */
	async uploadAvatar(picture: Blob): Promise<void> {
		this.#apply((await this.#api.putBytes<{ profile: OwnProfile }>('/api/me/avatar', picture)).profile);
	}

	async removeAvatar(): Promise<void> {
		this.#apply((await this.#api.delete<{ profile: OwnProfile }>('/api/me/avatar')).profile);
	}

	async setStatus(input: { emoji: string; text: string; duration: StatusDuration }, now = new Date()): Promise<void> {
		const expiresAt = statusExpiry(input.duration, now)?.toISOString() ?? null;
		this.#apply((await this.#api.put<{ profile: OwnProfile }>('/api/me/status', { emoji: input.emoji, text: input.text, expiresAt })).profile);
	}

	async clearStatus(): Promise<void> {
		this.#apply((await this.#api.delete<{ profile: OwnProfile }>('/api/me/status')).profile);
	}

	#apply(profile: OwnProfile) {
		this.avatarUrl = profile.avatarUrl;
		this.bio = profile.bio;
		this.pronouns = profile.pronouns;
		this.status = profile.status;
		this.loaded = true;
		knownProfiles.set(this.#userId, profile.avatarUrl, profile.status);
	}
}
