// The sign-in and sign-up forms: field values, instant feedback from the same rules the server
// applies (shared/validation.ts), submission, and the server's reason when it refuses.
import * as v from 'valibot';
import type { Me, SecondFactorChallenge } from '#lib/shared/api-types.ts';
import { DisplayName, InviteCode, Password, Username, firstIssue } from '#lib/shared/validation.ts';
import { ApiClient, ApiError } from '../api.ts';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/browser';
import { usePasskey } from './passkey-ceremonies.ts';

type FieldErrors<K extends string> = Partial<Record<K, string>>;

function check(schema: v.GenericSchema, value: string): string | undefined {
	const result = v.safeParse(schema, value);
	return result.success ? undefined : firstIssue(result.issues);
}

/**
 * Where a sign-in stands: the password; then, for an account with a second factor, a code from the
 * app or a recovery code; after a recovery code, a word on how many remain before going on.
 */
export type SignInStep = 'password' | 'code' | 'recovery' | 'recovered';

export class SignInForm {
	username = $state('');
	password = $state('');
	code = $state('');
	recoveryCode = $state('');
	step = $state<SignInStep>('password');
	/** The second factors the account has (the sign-in answer lists them). */
	methods = $state<SecondFactorChallenge['secondFactor']['methods']>([]);
	/** After a recovery code: how many are left, and who signed in (to go on with). */
	recoveryCodesLeft = $state(0);
	error = $state<string | null>(null);
	submitting = $state(false);
	#signedIn: Me | null = null;
	#api: ApiClient;

	constructor(api = new ApiClient()) {
		this.#api = api;
	}

	/** Signs in; resolves with the user, or null with `error` set or the next step shown. */
	async submit(): Promise<Me | null> {
		if (this.step === 'code' || this.step === 'recovery') return this.#submitSecondFactor();
		if (this.step === 'recovered') return this.#signedIn;
		if (!this.username.trim() || !this.password) {
			this.error = 'Enter your username and password.';
			return null;
		}
		this.submitting = true;
		this.error = null;
		try {
			const answer = await this.#api.post<{ user: Me } | SecondFactorChallenge>('/api/auth/sign-in', { username: this.username, password: this.password });
			if ('secondFactor' in answer) {
				this.methods = answer.secondFactor.methods;
				this.password = '';
				this.step = 'code';
				return null;
			}
			return answer.user;
		} catch (error) {
			this.error = error instanceof Error ? error.message : 'Could not sign in.';
			this.password = '';
			return null;
		} finally {
			this.submitting = false;
		}
	}

	/** Signs in with a passkey alone: the browser offers the passkeys it holds for this server. */
	async signInWithPasskey(): Promise<Me | null> {
		this.submitting = true;
		this.error = null;
		try {
			const { options } = await this.#api.post<{ options: PublicKeyCredentialRequestOptionsJSON }>('/api/auth/passkey/options');
			const response = await usePasskey(options);
			const { user } = await this.#api.post<{ user: Me }>('/api/auth/passkey', { response });
			return user;
		} catch (error) {
			this.error = error instanceof Error ? error.message : 'Could not sign in with a passkey.';
			return null;
		} finally {
			this.submitting = false;
		}
	}

	/** The second step with one of the account's passkeys instead of a code. */
	async secondFactorWithPasskey(): Promise<Me | null> {
		this.submitting = true;
		this.error = null;
		try {
			const { options } = await this.#api.post<{ options: PublicKeyCredentialRequestOptionsJSON }>('/api/auth/second-factor/passkey-options');
			const passkey = await usePasskey(options);
			const { user } = await this.#api.post<{ user: Me }>('/api/auth/second-factor', { passkey });
			return user;
		} catch (error) {
			this.error = error instanceof Error ? error.message : 'Could not sign in with a passkey.';
			if (error instanceof ApiError && error.status === 401) this.startOver();
			return null;
		} finally {
			this.submitting = false;
		}
	}

	/** Between the app's code and a recovery code. */
	switchTo(step: 'code' | 'recovery'): void {
		this.step = step;
		this.error = null;
	}

	/** Back to the password (the pending sign-in is simply left to expire). */
	startOver(): void {
		const error = this.error;
		this.step = 'password';
		this.code = this.recoveryCode = this.password = '';
		// Kept when the server ended the pending sign-in (it says why); cleared when the person chose to.
		this.error = error && this.submitting ? error : null;
	}

	async #submitSecondFactor(): Promise<Me | null> {
		const usingCode = this.step === 'code';
		const value = usingCode ? this.code.replace(/\s+/g, '') : this.recoveryCode.trim();
		if (usingCode && !/^\d{6}$/.test(value)) {
			this.error = 'Enter the 6-digit code from your authenticator app.';
			return null;
		}
		if (!usingCode && !value) {
			this.error = 'Enter one of your recovery codes.';
			return null;
		}
		this.submitting = true;
		this.error = null;
		try {
			const result = await this.#api.post<{ user: Me; method: 'totp' | 'recovery_code'; recoveryCodesLeft: number }>(
				'/api/auth/second-factor',
				usingCode ? { code: value } : { recoveryCode: value }
			);
			if (result.method === 'recovery_code') {
				// Say how many are left before going on: the person may need to make new ones.
				this.#signedIn = result.user;
				this.recoveryCodesLeft = result.recoveryCodesLeft;
				this.step = 'recovered';
				return null;
			}
			return result.user;
		} catch (error) {
			const expired = error instanceof ApiError && error.status === 401;
			this.error = error instanceof Error ? error.message : 'Could not sign in.';
			// The pending sign-in expired or ran out of attempts: the password is needed again.
			if (expired) {
				this.step = 'password';
				this.code = this.recoveryCode = '';
			} else {
				this.code = '';
			}
			return null;
		} finally {
			this.submitting = false;
		}
	}
}

export type SignUpField = 'username' | 'displayName' | 'password' | 'confirm' | 'inviteCode';

export class SignUpForm {
	username = $state('');
	displayName = $state('');
	password = $state('');
	confirm = $state('');
	inviteCode = $state('');
	/** Fields the user has left at least once: only those show problems while typing. */
	touched = $state<Partial<Record<SignUpField, boolean>>>({});
	error = $state<string | null>(null);
	submitting = $state(false);
	readonly inviteRequired: boolean;
	#api: ApiClient;

	constructor(options: { inviteCode?: string; inviteRequired?: boolean; api?: ApiClient } = {}) {
		this.inviteCode = options.inviteCode ?? '';
		this.inviteRequired = options.inviteRequired ?? false;
		this.#api = options.api ?? new ApiClient();
	}

	get problems(): FieldErrors<SignUpField> {
		return {
			username: check(Username, this.username),
			displayName: this.displayName.trim() ? check(DisplayName, this.displayName) : undefined,
			password: check(Password, this.password),
			confirm: this.confirm !== this.password ? 'The passwords do not match.' : undefined,
			inviteCode: this.inviteCode.trim() ? check(InviteCode, this.inviteCode) : this.inviteRequired ? 'An invite code is needed to join this server.' : undefined
		};
	}

	/** Problems to show now: of touched fields while typing, of all fields after a submit attempt. */
	get visibleProblems(): FieldErrors<SignUpField> {
		const all = this.problems;
		return Object.fromEntries(Object.entries(all).filter(([field]) => this.touched[field as SignUpField])) as FieldErrors<SignUpField>;
	}

	touch(field: SignUpField): void {
		this.touched[field] = true;
	}

	/** Creates the account; resolves with the user (and the community an invite joined), or null. */
	async submit(): Promise<{ user: Me; joinedCommunityId: string | null } | null> {
		this.touched = { username: true, displayName: true, password: true, confirm: true, inviteCode: true };
		if (Object.values(this.problems).some(Boolean)) return null;
		this.submitting = true;
		this.error = null;
		try {
			const result = await this.#api.post<{ user: Me; joinedCommunityId?: string | null }>('/api/auth/sign-up', {
				username: this.username.trim().toLowerCase(),
				password: this.password,
				...(this.displayName.trim() ? { displayName: this.displayName.trim() } : {}),
				...(this.inviteCode.trim() ? { inviteCode: this.inviteCode.trim() } : {})
			});
			return { user: result.user, joinedCommunityId: result.joinedCommunityId ?? null };
		} catch (error) {
			this.error = error instanceof Error ? error.message : 'Could not create the account.';
			return null;
		} finally {
			this.submitting = false;
		}
	}
}
