// The sign-in and sign-up forms: field values, instant feedback from the same rules the server
// applies (shared/validation.ts), submission, and the server's reason when it refuses.
import * as v from 'valibot';
import type { Me } from '#lib/shared/api-types.ts';
import { DisplayName, InviteCode, Password, Username, firstIssue } from '#lib/shared/validation.ts';
import { ApiClient } from '../api.ts';

type FieldErrors<K extends string> = Partial<Record<K, string>>;

function check(schema: v.GenericSchema, value: string): string | undefined {
	const result = v.safeParse(schema, value);
	return result.success ? undefined : firstIssue(result.issues);
}

export class SignInForm {
	username = $state('');
	password = $state('');
	error = $state<string | null>(null);
	submitting = $state(false);
	#api: ApiClient;

	constructor(api = new ApiClient()) {
		this.#api = api;
	}

	/** Signs in; resolves with the user, or null with `error` set. */
	async submit(): Promise<Me | null> {
		if (!this.username.trim() || !this.password) {
			this.error = 'Enter your username and password.';
			return null;
		}
		this.submitting = true;
		this.error = null;
		try {
			const { user } = await this.#api.post<{ user: Me }>('/api/auth/sign-in', { username: this.username, password: this.password });
			return user;
		} catch (error) {
			this.error = error instanceof Error ? error.message : 'Could not sign in.';
			this.password = '';
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
