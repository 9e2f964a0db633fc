// The forms behind the shell's dialogs: creating a community or channel, editing a channel,
// making an invite link, and reading an invite someone pasted. Each checks input with the shared
// rules as the user types and reports the server's reason when it refuses.
import * as v from 'valibot';
import type { InviteView } from '#lib/shared/api-types.ts';
import type { ChannelView } from '#lib/shared/protocol/frames.ts';
import { ChannelName, ChannelTopic, CommunityName, Description, InviteCode, firstIssue } from '#lib/shared/validation.ts';
import type { Directory } from './directory.svelte.ts';

function problemOf(schema: v.GenericSchema, value: string): string | undefined {
	const result = v.safeParse(schema, value);
	return result.success ? undefined : firstIssue(result.issues);
}

export class CommunityForm {
	name = $state('');
	description = $state('');
	touched = $state(false);
	submitting = $state(false);
	error = $state<string | null>(null);
	#directory: Directory;

	constructor(directory: Directory) {
		this.#directory = directory;
	}

	get problems(): { name?: string; description?: string } {
		return { name: problemOf(CommunityName, this.name), description: problemOf(Description, this.description) };
	}

	/** Problems to show: none until the first submit attempt. */
	get shownProblems(): { name?: string; description?: string } {
		return this.touched ? this.problems : {};
	}

	/** Creates it; resolves with the path of its first channel, or null. */
	async submit(): Promise<string | null> {
		this.touched = true;
		if (this.problems.name || this.problems.description) return null;
		this.submitting = true;
		this.error = null;
		try {
			const community = await this.#directory.createCommunity({ name: this.name.trim(), description: this.description.trim() });
			const first = community.channels.find((c) => c.id === community.systemChannelId) ?? community.channels[0];
			return first ? `/c/${community.id}/${first.id}` : `/c/${community.id}`;
		} catch (error) {
			this.error = error instanceof Error ? error.message : 'Could not create the community.';
			return null;
		} finally {
			this.submitting = false;
		}
	}
}

export class ChannelForm {
	name = $state('');
	topic = $state('');
	/** Create a voice channel (a call with its own chat) instead of a text channel; fixed once created. */
	voice = $state(false);
	touched = $state(false);
	submitting = $state(false);
	error = $state<string | null>(null);
	readonly editing: ChannelView | null;
	#directory: Directory;
	#communityId: string;

	constructor(directory: Directory, target: { communityId: string } | { channel: ChannelView }) {
		this.#directory = directory;
		if ('channel' in target) {
			this.editing = target.channel;
			this.#communityId = target.channel.communityId ?? '';
			this.name = target.channel.name;
			this.topic = target.channel.topic;
		} else {
			this.editing = null;
			this.#communityId = target.communityId;
		}
	}

	/** The name as it will be saved ("Off Topic" → "off-topic"). */
	get normalizedName(): string {
		const result = v.safeParse(ChannelName, this.name);
		return result.success ? result.output : this.name.trim().toLowerCase().replace(/\s+/g, '-');
	}

	get problems(): { name?: string; topic?: string } {
		return { name: problemOf(ChannelName, this.name), topic: problemOf(ChannelTopic, this.topic) };
	}

	/** Problems to show: none until the first submit attempt. */
	get shownProblems(): { name?: string; topic?: string } {
		return this.touched ? this.problems : {};
	}

	/** Creates or saves; resolves with the channel, or null. */
	async submit(): Promise<ChannelView | null> {
		this.touched = true;
		if (this.problems.name || this.problems.topic) return null;
		this.submitting = true;
		this.error = null;
		try {
			const input = { name: this.normalizedName, topic: this.topic.trim() };
			return this.editing
				? await this.#directory.updateChannel(this.editing.id, input)
				: await this.#directory.createChannel(this.#communityId, { ...input, kind: this.voice ? 'voice' : 'text' });
		} catch (error) {
			this.error = error instanceof Error ? error.message : 'Could not save the channel.';
			return null;
		} finally {
			this.submitting = false;
		}
	}
}

export const INVITE_EXPIRY_CHOICES = [
	{ hours: 1, label: '1 hour' },
	{ hours: 24, label: '1 day' },
	{ hours: 24 * 7, label: '7 days' },
	{ hours: 24 * 30, label: '30 days' },
	{ hours: null, label: 'Never' }
] as const;

export const INVITE_USES_CHOICES = [
	{ uses: null, label: 'No limit' },
	{ uses: 1, label: '1 use' },
	{ uses: 5, label: '5 uses' },
	{ uses: 10, label: '10 uses' },
	{ uses: 25, label: '25 uses' },
	{ uses: 100, label: '100 uses' }
] as const;

export function inviteUrl(code: string, origin = location.origin): string {
	return `${origin}/invite/${code}`;
}

export class InviteLink {
	expiresInHours = $state<number | null>(24 * 7);
	maxUses = $state<number | null>(null);
	invite = $state<InviteView | null>(null);
	creating = $state(false);
	copied = $state(false);
	error = $state<string | null>(null);
	#directory: Directory;
	#communityId: string;
	#copiedTimer: ReturnType<typeof setTimeout> | undefined;

	constructor(directory: Directory, communityId: string) {
		this.#directory = directory;
		this.#communityId = communityId;
	}

	get url(): string {
		return this.invite ? inviteUrl(this.invite.code) : '';
	}

	async create(): Promise<void> {
		this.creating = true;
		this.error = null;
		this.copied = false;
		try {
			this.invite = await this.#directory.createInvite(this.#communityId, { maxUses: this.maxUses, expiresInHours: this.expiresInHours });
		} catch (error) {
			this.error = error instanceof Error ? error.message : 'Could not create an invite.';
		} finally {
			this.creating = false;
		}
	}

	async copy(): Promise<boolean> {
		if (!this.url) return false;
		try {
			await navigator.clipboard.writeText(this.url);
		} catch {
			return false; // Clipboard refused (insecure context, permissions): the field stays selectable.
		}
		this.copied = true;
		clearTimeout(this.#copiedTimer);
		this.#copiedTimer = setTimeout(() => (this.copied = false), 2000);
		return true;
	}
}

/** The invite code in what someone pasted: a full link, a path, or the bare code. */
export function inviteCodeFrom(input: string): string | null {
	const trimmed = input.trim();
	const match = /\/invite\/([A-Za-z0-9]+)\/?(?:[?#].*)?$/.exec(trimmed);
	const candidate = match ? match[1]! : trimmed;
	return v.safeParse(InviteCode, candidate).success ? candidate : null;
}
