// The server administration page: instance settings, accounts and the instance audit log. Risky
// account actions ask for the admin's password again; the page collects it and the server checks it.
import type { AdminUserView, AuditEntryView, CommunityView, InstanceInviteView, InstanceSettingsView, TwoFactorRequirement } from '#lib/shared/api-types.ts';
import type { RateLimitLevel } from '#lib/shared/validation.ts';
import type { ApiClient } from '../api.ts';
import { toasts } from '../app/toasts.svelte.ts';

export type AccountAction =
	| { kind: 'disable'; user: AdminUserView }
	| { kind: 'enable'; user: AdminUserView }
	| { kind: 'delete'; user: AdminUserView }
	| { kind: 'role'; user: AdminUserView; role: 'admin' | 'member' }
	| { kind: 'reset-two-factor'; user: AdminUserView };

export function describeAction(action: AccountAction): { title: string; confirm: string; danger: boolean } {
	const name = action.user.displayName;
	switch (action.kind) {
		case 'disable':
			return { title: `Disable ${name}?`, confirm: 'Disable account', danger: true };
		case 'enable':
			return { title: `Re-enable ${name}?`, confirm: 'Re-enable', danger: false };
		case 'delete':
			return { title: `Delete ${name} for good?`, confirm: 'Delete account', danger: true };
		case 'role':
			return { title: action.role === 'admin' ? `Make ${name} a server admin?` : `Make ${name} a regular member?`, confirm: 'Change role', danger: false };
		case 'reset-two-factor':
			return { title: `Reset ${name}'s two-factor authentication?`, confirm: 'Reset two-factor', danger: true };
	}
}

/** The two-factor requirement choices as the admin page offers them. */
export const TWO_FACTOR_REQUIREMENTS: { value: TwoFactorRequirement; label: string; detail: string }[] = [
	{ value: 'off', label: 'Optional', detail: 'Everyone may turn it on in Settings → Security.' },
	{ value: 'admins', label: 'Required for server admins', detail: 'The owner and admins must use a second factor.' },
	{ value: 'everyone', label: 'Required for everyone', detail: 'Every account with a password must use a second factor (guests excepted).' }
];

/** The rate-limit levels as the admin page offers them; the factors are RATE_LIMIT_FACTORS on the server. */
export const RATE_LIMIT_LEVELS: { value: RateLimitLevel; label: string }[] = [
	{ value: 'relaxed', label: 'Relaxed (×2)' },
	{ value: 'normal', label: 'Normal (×1)' },
	{ value: 'strict', label: 'Strict (×½)' }
];

/** Whether an invite can still be used, in words, for the admin list. */
export function inviteStatus(invite: InstanceInviteView, now = Date.now()): string {
	if (invite.revoked) return 'revoked';
	if (invite.expiresAt && Date.parse(invite.expiresAt) <= now) return 'expired';
	if (invite.maxUses !== null && invite.uses >= invite.maxUses) return 'used up';
	return 'active';
}

/** A textarea of URLs, one a line, as a list (blank lines dropped). */
export function urlLines(text: string): string[] {
	return text
		.split('\n')
		.map((line) => line.trim())
		.filter(Boolean);
}

export class InstanceAdmin {
	settings = $state<InstanceSettingsView | null>(null);
	name = $state('');
	/** The message size limit as typed; empty means "the server's default". */
	messageMaxBytes = $state('');
	uploadMaxBytes = $state('');
	/** The ICE server settings as typed, one URL per line; empty means "the environment's". */
	stunUrls = $state('');
	turnUrls = $state('');
	/** The grace period as typed, in days. */
	twoFactorGraceDays = $state('');
	users = $state<AdminUserView[]>([]);
	query = $state('');
	audit = $state<AuditEntryView[]>([]);
	communities = $state<CommunityView[]>([]);
	/** Every instance invite, newest first, with who used it. */
	invites = $state<InstanceInviteView[]>([]);
	saving = $state(false);
	#api: ApiClient;

	constructor(api: ApiClient) {
		this.#api = api;
	}

	async load(): Promise<void> {
		try {
			const [{ settings }, { communities }] = await Promise.all([
				this.#api.get<{ settings: InstanceSettingsView }>('/api/admin/settings'),
				this.#api.get<{ communities: CommunityView[] }>('/api/communities'),
				this.loadUsers(),
				this.loadAudit(),
				this.loadInvites()
			]);
			this.#applySettings(settings);
			this.communities = communities;
		} catch (error) {
			toasts.error(error);
		}
	}

	#applySettings(settings: InstanceSettingsView) {
		this.settings = settings;
		this.name = settings.name;
		this.messageMaxBytes = settings.messageMaxBytes === null ? '' : String(settings.messageMaxBytes);
		this.uploadMaxBytes = settings.uploadMaxBytes === null ? '' : String(settings.uploadMaxBytes);
		this.stunUrls = settings.stunUrls.join('\n');
		this.turnUrls = settings.turnUrls.join('\n');
		this.twoFactorGraceDays = String(settings.twoFactorGraceDays);
	}

	saveGraceDays() {
		const raw = this.twoFactorGraceDays.trim();
		if (!/^\d+$/.test(raw) || Number(raw) > 90) {
			toasts.show('The grace period is a whole number of days from 0 to 90.', 'error');
			return Promise.resolve(false);
		}
		return this.save({ twoFactorGraceDays: Number(raw) }, 'Grace period saved.');
	}

	async loadUsers() {
		const q = this.query.trim();
		this.users = (await this.#api.get<{ users: AdminUserView[] }>(`/api/admin/users${q ? `?q=${encodeURIComponent(q)}` : ''}`)).users;
	}

	async loadInvites() {
		this.invites = (await this.#api.get<{ invites: InstanceInviteView[] }>('/api/admin/invites')).invites;
	}

	async loadAudit() {
		this.audit = (await this.#api.get<{ entries: AuditEntryView[] }>('/api/admin/audit-log?limit=100')).entries;
	}

	/** Saves one setting (or several); the server validates and answers with the settings now in force. */
	save(change: Record<string, unknown>, done = 'Settings saved.'): Promise<boolean> {
		return this.#changeSettings(() => this.#api.patch<{ settings: InstanceSettingsView }>('/api/admin/settings', change), done);
	}

	/** Every settings change: the server answers with the new settings, and the audit log has a new line. */
	async #changeSettings(request: () => Promise<{ settings: InstanceSettingsView }>, done: string): Promise<boolean> {
		this.saving = true;
		try {
			const { settings } = await request();
			this.#applySettings(settings);
			toasts.show(done, 'success');
			void this.loadAudit().catch(() => {});
			return true;
		} catch (error) {
			toasts.error(error);
			return false;
		} finally {
			this.saving = false;
		}
	}

	saveMessageLimit() {
		const raw = this.messageMaxBytes.trim();
		if (raw !== '' && !/^\d+$/.test(raw)) {
			toasts.show('The message size limit is a whole number of bytes, or empty for the default.', 'error');
			return Promise.resolve(false);
		}
		return this.save({ messageMaxBytes: raw === '' ? null : Number(raw) });
	}

	saveUploadLimit() {
		const raw = this.uploadMaxBytes.trim();
		if (raw !== '' && !/^\d+$/.test(raw)) {
			toasts.show('The upload size limit is a whole number of bytes, or empty for the default.', 'error');
			return Promise.resolve(false);
		}
		return this.save({ uploadMaxBytes: raw === '' ? null : Number(raw) });
	}

	/** Saves both ICE lists; the server checks each URL and that TURN_SECRET exists for TURN. */
	saveIceServers() {
		return this.save({ stunUrls: urlLines(this.stunUrls), turnUrls: urlLines(this.turnUrls) }, 'Call servers saved.');
	}

	/** Uploads a new server icon; the server checks its size and type by its bytes and answers with the settings. */
	uploadIcon(file: File): Promise<boolean> {
		return this.#changeSettings(() => this.#api.putBytes<{ settings: InstanceSettingsView }>('/api/admin/icon', file), 'Server icon saved.');
	}

	removeIcon(): Promise<boolean> {
		return this.#changeSettings(() => this.#api.delete<{ settings: InstanceSettingsView }>('/api/admin/icon'), 'Server icon removed.');
	}

	async revokeSessions(user: AdminUserView): Promise<void> {
		try {
			const { revoked } = await this.#api.post<{ revoked: number }>(`/api/admin/users/${user.id}/revoke-sessions`);
			toasts.show(`${user.displayName} was signed out of ${revoked} session${revoked === 1 ? '' : 's'}.`, 'success');
			await Promise.all([this.loadUsers(), this.loadAudit()]);
		} catch (error) {
			toasts.error(error);
		}
	}

	/** Runs a risky account action with the admin's password; resolves to the error text, or null. */
	async run(action: AccountAction, password: string): Promise<string | null> {
		try {
			const path = `/api/admin/users/${action.user.id}`;
			if (action.kind === 'delete') await this.#api.delete(path, { password });
			else if (action.kind === 'reset-two-factor') await this.#api.delete(`${path}/two-factor`, { password });
			else if (action.kind === 'role') await this.#api.patch(path, { instanceRole: action.role, password });
			else await this.#api.patch(path, { disabled: action.kind === 'disable', password });
			toasts.show('Done.', 'success');
			await Promise.all([this.loadUsers(), this.loadAudit()]);
			return null;
		} catch (error) {
			return error instanceof Error ? error.message : 'That did not work.';
		}
	}
}
