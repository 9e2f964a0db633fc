// Settings → Security → Passkeys: the list (name, added, last used), adding one (password, then the
// browser's prompt, then its name) and removing one (password).
import type { PasskeyView } from '#lib/shared/api-types.ts';
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/browser';
import type { ApiClient } from '../api.ts';
import { createPasskey, passkeysSupported } from '../auth/passkey-ceremonies.ts';

export type PasskeyStep = { kind: 'add' } | { kind: 'remove'; passkey: PasskeyView };

export class PasskeySettings {
	passkeys = $state<PasskeyView[] | null>(null);
	supported = $state(true);
	step = $state<PasskeyStep | null>(null);
	password = $state('');
	name = $state('');
	error = $state<string | null>(null);
	notice = $state<string | null>(null);
	busy = $state(false);
	#api: ApiClient;

	constructor(api: ApiClient) {
		this.#api = api;
	}

	async load(): Promise<void> {
		this.supported = await passkeysSupported();
		try {
			this.passkeys = (await this.#api.get<{ passkeys: PasskeyView[] }>('/api/me/passkeys')).passkeys;
		} catch (error) {
			this.error = messageOf(error);
		}
	}

	open(step: PasskeyStep, defaultName = ''): void {
		this.step = step;
		this.password = '';
		this.name = step.kind === 'add' ? defaultName : '';
		this.error = null;
		this.notice = null;
	}

	cancel(): void {
		this.step = null;
		this.password = '';
		this.error = null;
	}

	async submit(): Promise<void> {
		const step = this.step;
		if (!step) return;
		if (!this.password) {
			this.error = 'Enter your current password.';
			return;
		}
		if (step.kind === 'add' && !this.name.trim()) {
			this.error = 'Name the passkey, such as the device it is on.';
			return;
		}
		this.busy = true;
		this.error = null;
		try {
			if (step.kind === 'add') {
				const { options } = await this.#api.post<{ options: PublicKeyCredentialCreationOptionsJSON }>('/api/me/passkeys/options', { password: this.password });
				const response = await createPasskey(options);
				await this.#api.post('/api/me/passkeys', { name: this.name.trim(), response });
				this.notice = `Passkey "${this.name.trim()}" added. You can sign in with it instead of your password.`;
			} else {
				await this.#api.delete(`/api/me/passkeys/${encodeURIComponent(step.passkey.id)}`, { password: this.password });
				this.notice = `Passkey "${step.passkey.name}" removed.`;
			}
			this.step = null;
			this.password = '';
			await this.load();
		} catch (error) {
			this.error = messageOf(error);
		} finally {
			this.busy = false;
		}
	}
}

function messageOf(error: unknown): string {
	return error instanceof Error ? error.message : 'That did not work. Try again.';
}
