// The settings page: profile, password, sessions, and for instance admins the server's name,
// registration mode and instance invites. Each action validates with the shared rules, calls the
// API, and reports the outcome (the server's own words when it refuses).
import * as v from 'valibot';
import type { InstanceInfo, InviteView, Me, SessionView } from '#lib/shared/api-types.ts';
import { DisplayName, Password, firstIssue, type RegistrationMode } from '#lib/shared/validation.ts';
import type { ApiClient } from '../api.ts';
import { toasts } from '../app/toasts.svelte.ts';

export class ProfileSettings {
	displayName = $state('');
	saving = $state(false);
	#api: ApiClient;
	#onSaved: (me: Me) => void;

	constructor(api: ApiClient, me: Me, onSaved: (me: Me) => void) {
		this.#api = api;
		this.displayName = me.displayName;
		this.#onSaved = onSaved;
	}

	get problem(): string | undefined {
		const result = v.safeParse(DisplayName, this.displayName);
		return result.success ? undefined : firstIssue(result.issues);
	}

	async save(): Promise<void> {
		if (this.problem) return;
		this.saving = true;
		try {
			const { user } = await this.#api.patch<{ user: Me }>('/api/me', { displayName: this.displayName.trim() });
			this.#onSaved(user);
			toasts.show('Profile saved.', 'success');
		} catch (error) {
			toasts.error(error);
		} finally {
			this.saving = false;
		}
	}
}

export class PasswordSettings {
	current = $state('');
	next = $state('');
	confirm = $state('');
	touched = $state(false);
	saving = $state(false);
	error = $state<string | null>(null);
	#api: ApiClient;
	#renewing: <T>(request: Promise<T>) => Promise<T>;

	/** `renewing` wraps the request that replaces this device's session (see ChatState). */
	constructor(api: ApiClient, renewing: <T>(request: Promise<T>) => Promise<T> = (r) => r) {
		this.#api = api;
		this.#renewing = renewing;
	}

	get problems(): { current?: string; next?: string; confirm?: string } {
		const result = v.safeParse(Password, this.next);
		return {
			current: this.current ? undefined : 'Enter your current password.',
			next: result.success ? undefined : firstIssue(result.issues),
			confirm: this.confirm === this.next ? undefined : 'The passwords do not match.'
		};
	}

	/** Changes the password; every other session is signed out by the server. */
	async save(): Promise<boolean> {
		this.touched = true;
		if (Object.values(this.problems).some(Boolean)) return false;
		this.saving = true;
		this.error = null;
		try {
			await this.#renewing(this.#api.post('/api/me/password', { currentPassword: this.current, newPassword: this.next }));
			this.current = this.next = this.confirm = '';
			this.touched = false;
			toasts.show('Password changed. Your other devices were signed out.', 'success');
			return true;
		} catch (error) {
			this.error = error instanceof Error ? error.message : 'Could not change the password.';
			return false;
		} finally {
			this.saving = false;
		}
	}
}

export class SessionSettings {
	sessions = $state<SessionView[]>([]);
	loading = $state(true);
	busy = $state(false);
	#api: ApiClient;

	constructor(api: ApiClient) {
		this.#api = api;
	}

	get others(): SessionView[] {
		return this.sessions.filter((s) => !s.current);
	}

	async load(): Promise<void> {
		try {
			const { sessions } = await this.#api.get<{ sessions: SessionView[] }>('/api/me/sessions');
			// This device first, then the most recently used.
			this.sessions = sessions.toSorted((a, b) => Number(b.current) - Number(a.current) || b.lastSeenAt.localeCompare(a.lastSeenAt));
		} catch (error) {
			toasts.error(error);
		} finally {
			this.loading = false;
		}
	}

	async revoke(id: string): Promise<void> {
		this.busy = true;
		try {
			await this.#api.delete(`/api/me/sessions/${id}`);
			this.sessions = this.sessions.filter((s) => s.id !== id);
			toasts.show('That session was signed out.', 'success');
		} catch (error) {
			toasts.error(error);
		} finally {
			this.busy = false;
		}
	}

	async revokeOthers(): Promise<void> {
		this.busy = true;
		try {
			const { revoked } = await this.#api.post<{ revoked: number }>('/api/me/sessions/revoke-others');
			this.sessions = this.sessions.filter((s) => s.current);
			toasts.show(revoked === 1 ? 'Signed out 1 other session.' : `Signed out ${revoked} other sessions.`, 'success');
		} catch (error) {
			toasts.error(error);
		} finally {
			this.busy = false;
		}
	}
}

export const REGISTRATION_MODES: { value: RegistrationMode; label: string; description: string }[] = [
	{ value: 'open', label: 'Open', description: 'Anyone who can reach this server can create an account.' },
	{ value: 'invite_only', label: 'Invite only', description: 'New accounts need an invite code (instance or community invite).' },
	{ value: 'closed', label: 'Closed', description: 'Nobody can create an account.' }
];

export class InstanceSettings {
	info = $state<InstanceInfo | null>(null);
	name = $state('');
	invites = $state<InviteView[]>([]);
	saving = $state(false);
	creating = $state(false);
	#api: ApiClient;

	constructor(api: ApiClient) {
		this.#api = api;
	}

	async load(): Promise<void> {
		try {
			const [info, { invites }] = await Promise.all([
				this.#api.get<InstanceInfo>('/api/instance'),
				this.#api.get<{ invites: InviteView[] }>('/api/admin/invites')
			]);
			this.info = info;
			this.name = info.name;
			this.invites = invites.toSorted((a, b) => b.createdAt.localeCompare(a.createdAt));
		} catch (error) {
			toasts.error(error);
		}
	}

	get activeInvites(): InviteView[] {
		const now = Date.now();
		return this.invites.filter((i) => !i.revoked && (!i.expiresAt || new Date(i.expiresAt).getTime() > now) && (i.maxUses === null || i.uses < i.maxUses));
	}

	async saveName(): Promise<void> {
		await this.#patch({ name: this.name.trim() }, 'Server name saved.');
	}

	async setRegistrationMode(mode: RegistrationMode): Promise<void> {
		await this.#patch({ registrationMode: mode }, 'Registration setting saved.');
	}

	async createInvite(options: { maxUses: number | null; expiresInHours: number | null }): Promise<InviteView | null> {
		this.creating = true;
		try {
			const { invite } = await this.#api.post<{ invite: InviteView }>('/api/admin/invites', options);
			this.invites = [invite, ...this.invites];
			return invite;
		} catch (error) {
			toasts.error(error);
			return null;
		} finally {
			this.creating = false;
		}
	}

	async revokeInvite(code: string): Promise<void> {
		try {
			await this.#api.delete(`/api/invites/${encodeURIComponent(code)}`);
			this.invites = this.invites.map((i) => (i.code === code ? { ...i, revoked: true } : i));
		} catch (error) {
			toasts.error(error);
		}
	}

	async #patch(body: { name?: string; registrationMode?: RegistrationMode }, done: string) {
		this.saving = true;
		try {
			this.info = await this.#api.patch<InstanceInfo>('/api/instance', body);
			this.name = this.info.name;
			toasts.show(done, 'success');
		} catch (error) {
			toasts.error(error);
		} finally {
			this.saving = false;
		}
	}
}
