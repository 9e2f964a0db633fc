// Joining a community from an invite link as a signed-in user (signed-out visitors sign up with
// the code, which joins them in the same step).
import { ApiClient } from '../api.ts';

export class InviteAcceptance {
	joining = $state(false);
	error = $state<string | null>(null);
	#api: ApiClient;

	constructor(api = new ApiClient()) {
		this.#api = api;
	}

	/** Joins as a guest (display name only; the server must allow guests); resolves like accept. */
	async joinAsGuest(code: string, displayName: string): Promise<string | null> {
		if (!displayName.trim()) {
			this.error = 'Choose a display name.';
			return null;
		}
		this.joining = true;
		this.error = null;
		try {
			const { communityId } = await this.#api.post<{ communityId: string }>(`/api/invites/${encodeURIComponent(code)}/guest`, { displayName: displayName.trim() });
			return communityId;
		} catch (error) {
			this.error = error instanceof Error ? error.message : 'Could not join.';
			return null;
		} finally {
			this.joining = false;
		}
	}

	/** Joins; resolves with the community id, or null with `error` set. */
	async accept(code: string): Promise<string | null> {
		this.joining = true;
		this.error = null;
		try {
			const { communityId } = await this.#api.post<{ communityId: string; joined: boolean }>(`/api/invites/${encodeURIComponent(code)}/accept`);
			return communityId;
		} catch (error) {
			this.error = error instanceof Error ? error.message : 'Could not join.';
			return null;
		} finally {
			this.joining = false;
		}
	}
}
