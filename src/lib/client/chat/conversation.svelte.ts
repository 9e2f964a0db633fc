// One open channel as the message view sees it: a snapshot of its loaded messages and of this
// user's unsent ones, scroll-back, the "new messages" divider, the composer's draft, reply and edit
// targets, and the actions on messages. Wraps ChatSync's timeline of that channel.
//
// A thread is a conversation too (`threadRootId` set): the same list, composer and actions, over the
// thread's replies in the same timeline; its messages are sent as replies in that thread, and
// reading it moves the thread's read marker (threads.svelte.ts) instead of the channel's.
import type { MemberNotice } from '#lib/shared/api-types.ts';
import { encodeMessageBody, MESSAGE_TEXT_MAX_CHARS, utf8Length } from '#lib/shared/message-body.ts';
import { encodeDraft, type QuotedMessage } from '../e2ee/message-codec.svelte.ts';
import { mentionsInText, type Mentions } from '#lib/shared/mentions.ts';
import type { MessageView } from '#lib/shared/protocol/frames.ts';
import type { OutboxItem } from '../realtime/outbox.ts';
import type { ChatState } from './chat-state.svelte.ts';

export type LoadStatus = 'loading' | 'ready' | 'error';

/** Someone the composer offers after "@". */
export type MentionCandidate = { id: string; username: string; displayName: string };

/** Why a text cannot be sent as it is, or null. */
export function checkMessageText(text: string, maxBytes: number): string | null {
	if (text.trim().length === 0) return 'Type a message first.';
	if (text.length > MESSAGE_TEXT_MAX_CHARS) return `Messages can have at most ${MESSAGE_TEXT_MAX_CHARS} characters (this one has ${text.length}).`;
	if (utf8Length(encodeMessageBody(text)) > maxBytes) return 'This message is too long to send.';
	return null;
}

export class Conversation {
	readonly channelId: string;
	/** Set for a thread: the root message whose replies this conversation shows. */
	readonly threadRootId: string | undefined;
	/** A thread's root message (null until loaded; always null for a channel). */
	root = $state.raw<MessageView | null>(null);
	messages = $state.raw<MessageView[]>([]);
	pending = $state.raw<OutboxItem[]>([]);
	/** Join and leave notices shown between messages. */
	notices = $state.raw<MemberNotice[]>([]);
	status = $state<LoadStatus>('loading');
	error = $state<string | null>(null);
	hasMoreBefore = $state(false);
	loadingOlder = $state(false);
	/** Messages after this sequence number are shown below a "new messages" divider. */
	dividerAfterSeq = $state<number | null>(null);
	draft = $state('');
	replyTo = $state<MessageView | null>(null);
	editingId = $state<string | null>(null);
	/** Bumped when this user sends: the list scrolls to the bottom even if scrolled up. */
	sentTick = $state(0);
	#chat: ChatState;
	/** The list is visible and scrolled to the bottom: new messages are being read as they come. */
	#reading = false;
	#readSent = 0;
	#snapshots = new WeakMap<MessageView, { signature: string; copy: MessageView }>();

	constructor(chat: ChatState, channelId: string, threadRootId?: string) {
		this.#chat = chat;
		this.channelId = channelId;
		this.threadRootId = threadRootId;
	}

	/** Distinguishes the channel's composer and list from its threads' (element ids, upload queues). */
	get key(): string {
		return this.threadRootId ? `${this.channelId}-thread-${this.threadRootId}` : this.channelId;
	}

	/** Loads the newest page (once) and places the divider after what was already read. */
	async open(): Promise<void> {
		if (this.threadRootId) return this.#openThread(this.threadRootId);
		const channel = this.#chat.directory.channel(this.channelId);
		if (channel && channel.unreadCount > 0 && this.dividerAfterSeq === null) this.dividerAfterSeq = channel.lastReadSeq;
		if (this.status === 'ready') return;
		this.status = 'loading';
		try {
			await this.#chat.sync.open(this.channelId);
			this.refresh();
			this.refreshPending();
			this.status = 'ready';
			this.error = null;
		} catch (error) {
			this.status = 'error';
			this.error = error instanceof Error ? error.message : 'Could not load messages.';
		}
	}

	#threadLoading: Promise<void> | null = null;

	#openThread(rootId: string): Promise<void> {
		if (this.status === 'ready') return Promise.resolve();
		this.#threadLoading ??= this.#loadThread(rootId).finally(() => (this.#threadLoading = null));
		return this.#threadLoading;
	}

	async #loadThread(rootId: string): Promise<void> {
		this.status = 'loading';
		try {
			const page = await this.#chat.sync.loadThread(this.channelId, rootId);
			this.#chat.threads.loaded(this.channelId, rootId, page);
			this.hasMoreBefore = page.hasMoreBefore;
			this.refresh();
			this.refreshPending();
			this.status = 'ready';
			this.error = null;
		} catch (error) {
			this.status = 'error';
			this.error = error instanceof Error ? error.message : 'Could not load this thread.';
		}
	}

	/** Called when leaving the channel: the divider is for one visit. */
	close(): void {
		this.#reading = false;
		this.dividerAfterSeq = null;
		this.editingId = null;
	}

	/** Copies the timeline into the reactive snapshot, reusing the copies of unchanged messages. */
	refresh(): void {
		const timeline = this.#chat.sync.timeline(this.channelId);
		if (!timeline) return;
		if (this.threadRootId) {
			const root = timeline.get(this.threadRootId);
			this.root = root ? this.#snapshot(root) : null;
		}
		const source = this.threadRootId ? timeline.threadReplies(this.threadRootId) : timeline.messages;
		this.messages = source.map((message) => this.#snapshot(message));
		if (!this.threadRootId) {
			if (timeline.notices.length !== this.notices.length) this.notices = [...timeline.notices];
			this.hasMoreBefore = timeline.hasMoreBefore;
		}
		if (this.replyTo) this.replyTo = this.messages.find((m) => m.id === this.replyTo!.id && !m.deletedAt) ?? null;
		if (this.editingId && !this.messages.some((m) => m.id === this.editingId && !m.deletedAt)) this.editingId = null;
		if (this.#reading) this.markRead();
	}

	/** A reactive copy of a timeline message, reused while it has not changed. */
	#snapshot(message: MessageView): MessageView {
		const signature = `${message.editedAt}:${message.deletedAt}:${message.pinnedAt}:${JSON.stringify(message.reactions)}:${message.payload}:${JSON.stringify(message.thread ?? null)}`;
		const known = this.#snapshots.get(message);
		if (known && known.signature === signature) return known.copy;
		const copy: MessageView = { ...message, reactions: message.reactions.map((r) => ({ key: r.key, userIds: [...r.userIds] })) };
		this.#snapshots.set(message, { signature, copy });
		return copy;
	}

	refreshPending(): void {
		const delivered = new Set(this.messages.map((m) => m.clientId));
		this.pending = this.#chat.sync.outbox.pendingFor(this.channelId, this.threadRootId).filter((item) => !delivered.has(item.clientId));
	}

	get cursor(): number | null {
		return this.#chat.sync.timeline(this.channelId)?.cursor ?? null;
	}

	message(id: string): MessageView | undefined {
		return this.messages.find((m) => m.id === id) ?? (this.root?.id === id ? this.root : undefined);
	}

	/** Loads the page before the oldest loaded message. */
	async loadOlder(): Promise<void> {
		if (this.loadingOlder || !this.hasMoreBefore || this.status !== 'ready') return;
		this.loadingOlder = true;
		try {
			if (this.threadRootId) {
				const page = await this.#chat.sync.loadThread(this.channelId, this.threadRootId, this.messages[0]?.seq);
				this.hasMoreBefore = page.hasMoreBefore;
			} else await this.#chat.sync.loadOlder(this.channelId);
		} catch (error) {
			this.#chat.notifyError(error);
		} finally {
			this.loadingOlder = false;
		}
	}

	// --- reading ------------------------------------------------------------------------------------

	/** The message list reports whether the newest message is on screen in a visible tab. */
	setReading(reading: boolean): void {
		this.#reading = reading;
		if (reading) this.markRead();
	}

	get reading(): boolean {
		return this.#reading;
	}

	markRead(): void {
		if (this.threadRootId) {
			const newest = this.root?.thread?.lastReplySeq ?? this.messages.at(-1)?.seq;
			if (newest) this.#chat.threads.markRead(this.channelId, this.threadRootId, newest);
			return;
		}
		const cursor = this.cursor;
		if (cursor === null) return;
		const channel = this.#chat.directory.channel(this.channelId);
		const alreadyRead = Math.max(this.#readSent, channel?.lastReadSeq ?? 0);
		if (cursor <= alreadyRead && (channel?.unreadCount ?? 0) === 0) return;
		this.#readSent = Math.max(this.#readSent, cursor);
		this.#chat.directory.markedRead(this.channelId, cursor);
		this.#chat.sendRead(this.channelId, cursor);
	}

	/** A message from someone else arrived while the reader was elsewhere: mark where new ones start. */
	noteUnseen(seq: number): void {
		if (this.#reading || this.dividerAfterSeq !== null) return;
		this.dividerAfterSeq = seq - 1;
	}

	// --- writing ------------------------------------------------------------------------------------

	/** People who can be mentioned here: the community's members, or the two people of a DM (not you). */
	get mentionable(): MentionCandidate[] {
		const channel = this.#chat.directory.channel(this.channelId);
		if (!channel) return [];
		const me = this.#chat.me.id;
		if (!channel.communityId) return channel.peer ? [channel.peer] : [];
		return (this.#chat.people.members[channel.communityId] ?? []).map((m) => m.user).filter((u) => u.id !== me);
	}

	/** Whether @everyone and @here are offered (the server checks the permission again). */
	get canMentionEveryone(): boolean {
		const channel = this.#chat.directory.channel(this.channelId);
		return !!channel?.communityId && this.#chat.directory.permissions(channel.communityId).mentionEveryone;
	}

	/** Loads the member list the mention autocomplete draws from (once per community). */
	prepareMentions(): void {
		const communityId = this.#chat.directory.channel(this.channelId)?.communityId;
		if (communityId) void this.#chat.people.ensureMembers(communityId).catch(() => {});
	}

	/** The mentions of a text about to be sent (both the routing field and the encrypted copy). */
	mentionsIn(text: string): Mentions | null {
		return mentionsInText(text, this.mentionable, this.canMentionEveryone);
	}

	/** The quote a reply carries inside its encrypted body, so it reads right where the original is not loaded. */
	replyQuote(): QuotedMessage | undefined {
		const quotedText = this.replyTo ? this.#chat.codec.text(this.replyTo) : null;
		return this.replyTo && quotedText !== null ? { messageId: this.replyTo.id, authorId: this.replyTo.authorId, text: quotedText.slice(0, 200) } : undefined;
	}

	/** Queues the draft (or a given text); false with a toast when it cannot be sent. */
	send(text = this.draft): boolean {
		const problem = checkMessageText(text, this.#chat.limits.messageMaxBytes);
		if (problem) {
			if (text.trim().length > 0) this.#chat.notify(problem, 'error');
			return false;
		}
		const body = text.trimEnd();
		const mentions = this.mentionsIn(body);
		this.#chat.sync.send(this.channelId, encodeDraft(body, { quote: this.replyQuote(), mentions }), this.replyTo?.id, mentions, this.threadRootId);
		this.#chat.typing.sent(this.channelId);
		this.draft = '';
		this.replyTo = null;
		this.dividerAfterSeq = null;
		this.sentTick += 1;
		return true;
	}

	typed(): void {
		if (this.draft.length > 0) this.#chat.typing.typed(this.channelId);
	}

	retry(clientId: string): void {
		this.#chat.sync.outbox.retry(clientId);
	}

	discard(clientId: string): void {
		this.#chat.sync.outbox.discard(clientId);
	}

	startReply(message: MessageView): void {
		this.editingId = null;
		this.replyTo = message;
	}

	startEdit(message: MessageView): void {
		if (!this.canEdit(message)) return;
		this.replyTo = null;
		this.editingId = message.id;
	}

	/** Escape: stops editing, else drops the reply target. True when something was cancelled. */
	cancel(): boolean {
		if (this.editingId) {
			this.editingId = null;
			return true;
		}
		if (this.replyTo) {
			this.replyTo = null;
			return true;
		}
		return false;
	}

	/** The newest message of this user that can still be edited (Up arrow in an empty composer). */
	lastOwnMessage(): MessageView | undefined {
		return this.messages.findLast((m) => m.authorId === this.#chat.me.id && this.canEdit(m));
	}

	canEdit(message: MessageView): boolean {
		return message.authorId === this.#chat.me.id && !message.deletedAt && this.#chat.codec.text(message) !== null;
	}

	canDelete(message: MessageView): boolean {
		if (message.deletedAt) return false;
		if (message.authorId === this.#chat.me.id) return true;
		const communityId = this.#chat.directory.channel(this.channelId)?.communityId;
		return communityId ? this.#chat.directory.permissions(communityId).deleteOthers : false;
	}

	/** Pinning: either person in a DM, "pin messages" in a community (the server checks again). */
	get canPin(): boolean {
		const channel = this.#chat.directory.channel(this.channelId);
		if (!channel || channel.archived) return false;
		return channel.communityId ? this.#chat.directory.permissions(channel.communityId).pin : true;
	}

	async setPinned(message: MessageView, pinned: boolean): Promise<boolean> {
		try {
			await this.#chat.pin(message.id, pinned);
			this.#chat.notify(pinned ? 'Pinned to this channel.' : 'Unpinned.', 'success');
			return true;
		} catch (error) {
			this.#chat.notifyError(error);
			return false;
		}
	}

	/** The disappearing-messages timer: either person in a DM, "manage channels" in a community. */
	get canSetDisappearing(): boolean {
		const channel = this.#chat.directory.channel(this.channelId);
		if (!channel || channel.archived) return false;
		return channel.communityId ? this.#chat.directory.permissions(channel.communityId).manage : true;
	}

	async setDisappearing(seconds: number): Promise<boolean> {
		try {
			await this.#chat.api.put(`/api/channels/${this.channelId}/disappearing`, { seconds });
			return true;
		} catch (error) {
			this.#chat.notifyError(error);
			return false;
		}
	}

	/** Someone else's message in a community can be reported to its moderators. */
	canReport(message: MessageView): boolean {
		if (message.deletedAt || message.authorId === this.#chat.me.id) return false;
		return !!this.#chat.directory.channel(this.channelId)?.communityId;
	}

	/**
	 * Reports a message, forwarding the text this device shows: moderators cannot read it from the
	 * server (end-to-end encryption), so they see it labelled as forwarded by the reporter.
	 */
	async report(message: MessageView, reason: string): Promise<boolean> {
		const view = await this.#chat.codec.viewAsync(message);
		const forwardedContent = view.state === 'ok' ? view.content.text : '';
		try {
			await this.#chat.api.post(`/api/messages/${message.id}/report`, { reason, forwardedContent });
			this.#chat.notify('Thanks. The moderators will look at it.', 'success');
			return true;
		} catch (error) {
			this.#chat.notifyError(error);
			return false;
		}
	}

	async saveEdit(messageId: string, text: string): Promise<boolean> {
		const message = this.message(messageId);
		if (!message) return false;
		if (text.trim().length === 0) {
			this.#chat.notify('A message cannot be empty. Delete it instead.', 'error');
			return false;
		}
		const before = await this.#chat.codec.viewAsync(message);
		if (before.state !== 'ok') {
			this.#chat.notify('This message cannot be read on this device, so it cannot be edited here.', 'error');
			return false;
		}
		if (before.content.text === text.trimEnd()) {
			this.editingId = null;
			return true;
		}
		const problem = checkMessageText(text, this.#chat.limits.messageMaxBytes);
		if (problem) {
			this.#chat.notify(problem, 'error');
			return false;
		}
		try {
			// Edits are sealed like new messages (never sent in the clear); the quote is kept.
			// Mentions are fixed when a message is sent: the edit repeats them, matching the routing field.
			const payload = await this.#chat.codec.seal(
				this.channelId,
				encodeDraft(text.trimEnd(), { quote: before.content.quote, rk: before.content.rk, attachments: before.content.attachments, mentions: before.content.mentions })
			);
			await this.#chat.editMessage(messageId, payload);
			if (this.editingId === messageId) this.editingId = null;
			return true;
		} catch (error) {
			this.#chat.notifyError(error);
			return false;
		}
	}

	async remove(messageId: string): Promise<void> {
		try {
			await this.#chat.deleteMessage(messageId);
			if (this.replyTo?.id === messageId) this.replyTo = null;
		} catch (error) {
			this.#chat.notifyError(error);
		}
	}

	hasReacted(message: MessageView, key: string): boolean {
		return message.reactions.some((r) => r.key === key && r.userIds.includes(this.#chat.me.id));
	}

	/** Adds this user's reaction with an emoji (its server key is encrypted under the message's reaction key). */
	async addReaction(message: MessageView, emoji: string): Promise<void> {
		try {
			const key = await this.#chat.codec.reactionKey(message, emoji);
			if (!this.hasReacted(message, key)) await this.#chat.react(message.id, key, true);
		} catch (error) {
			this.#chat.notifyError(error);
		}
	}

	/** Adds or removes this user's reaction with an existing (opaque) key. */
	async toggleReaction(message: MessageView, key: string): Promise<void> {
		try {
			await this.#chat.react(message.id, key, !this.hasReacted(message, key));
		} catch (error) {
			this.#chat.notifyError(error);
		}
	}
}
