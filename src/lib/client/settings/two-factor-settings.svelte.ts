// Settings → Security: the account's second factor. One flow at a time: confirm the password, scan
// the QR code (or type the secret), prove it with a first code, then keep the recovery codes shown
// once; new recovery codes and turning it off ask for the password again. The server decides and
// explains; this class keeps the steps and the words it answered with.
import type { TwoFactorOverview } from '#lib/shared/api-types.ts';
import type { ApiClient } from '../api.ts';

export type TwoFactorStep =
	/** The password before a set-up, new recovery codes, or turning it off. */
	| { kind: 'password'; purpose: 'setup' | 'regenerate' | 'disable' }
	/** The secret to scan or type, waiting for the app's first code. */
	| { kind: 'scan'; secret: string; uri: string }
	/** Recovery codes, shown this once. */
	| { kind: 'codes'; codes: string[]; reason: 'setup' | 'regenerate' };

/** The secret in groups of four, easier to read and type into an app. */
export function groupSecret(secret: string): string {
	return secret.match(/.{1,4}/g)?.join(' ') ?? secret;
}

/** A text file of the recovery codes, for the download button. */
export function recoveryCodesFile(codes: string[], account: string, server: string): string {
	return [
		`Recovery codes for ${account} on ${server}`,
		'Each code signs you in once when you cannot use your authenticator app.',
		'',
		...codes,
		''
	].join('\n');
}

export class TwoFactorSettings {
	status = $state<TwoFactorOverview | null>(null);
	step = $state<TwoFactorStep | null>(null);
	password = $state('');
	code = $state('');
	error = $state<string | null>(null);
	notice = $state<string | null>(null);
	busy = $state(false);
	#api: ApiClient;
	#onChanged: () => void;

	/** `onChanged`: two-factor turned on or off (the page reloads what depends on it, such as the grace-period banner). */
	constructor(api: ApiClient, onChanged: () => void = () => {}) {
		this.#api = api;
		this.#onChanged = onChanged;
	}

	async load(): Promise<void> {
		try {
			this.status = (await this.#api.get<{ twoFactor: TwoFactorOverview }>('/api/me/two-factor')).twoFactor;
		} catch (error) {
			this.error = messageOf(error);
		}
	}

	ask(purpose: 'setup' | 'regenerate' | 'disable'): void {
		this.step = { kind: 'password', purpose };
		this.password = '';
		this.code = '';
		this.error = null;
		this.notice = null;
	}

	cancel(): void {
		this.step = null;
		this.password = '';
		this.code = '';
		this.error = null;
	}

	/** The password step's submit: what happens next depends on what it was asked for. */
	async submitPassword(): Promise<void> {
		if (this.step?.kind !== 'password') return;
		if (!this.password) {
			this.error = 'Enter your current password.';
			return;
		}
		const purpose = this.step.purpose;
		await this.#run(async () => {
			const body = { password: this.password };
			if (purpose === 'setup') {
				const setup = await this.#api.post<{ secret: string; uri: string }>('/api/me/two-factor/totp', body);
				this.step = { kind: 'scan', ...setup };
			} else if (purpose === 'regenerate') {
				const { recoveryCodes } = await this.#api.post<{ recoveryCodes: string[] }>('/api/me/two-factor/recovery-codes', body);
				this.step = { kind: 'codes', codes: recoveryCodes, reason: 'regenerate' };
			} else {
				await this.#api.delete('/api/me/two-factor', body);
				this.step = null;
				this.notice = 'Two-factor authentication is off. Your password alone now signs you in.';
				this.#onChanged();
			}
			this.password = '';
			await this.load();
		});
	}

	/** The app's first code: two-factor turns on and the recovery codes are shown. */
	async confirmCode(): Promise<void> {
		if (this.step?.kind !== 'scan') return;
		const code = this.code.replace(/\s+/g, '');
		if (!/^\d{6}$/.test(code)) {
			this.error = 'Enter the 6-digit code from your authenticator app.';
			return;
		}
		await this.#run(async () => {
			const { recoveryCodes } = await this.#api.post<{ recoveryCodes: string[] }>('/api/me/two-factor/totp/confirm', { code });
			this.step = { kind: 'codes', codes: recoveryCodes, reason: 'setup' };
			this.code = '';
			await this.load();
			this.#onChanged();
		});
	}

	/** The person saved the codes: they are gone from the page (and were never stored in the browser). */
	finish(): void {
		const reason = this.step?.kind === 'codes' ? this.step.reason : 'setup';
		this.step = null;
		this.notice =
			reason === 'setup'
				? 'Two-factor authentication is on. Signing in now asks for a code from your app.'
				: 'New recovery codes are ready. The old ones no longer work.';
	}

	async #run(work: () => Promise<void>): Promise<void> {
		this.busy = true;
		this.error = null;
		try {
			await work();
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
