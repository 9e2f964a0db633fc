// The signed-in app's client state, one object for the page's life: it owns the REST client, the
// realtime connection and the sync engine, and wires their events into the pieces the components
// read (directory, people, presence, typing, open conversations, connection banner). Components
// render these and call their methods; they hold no rules of their own.
import { Attention } from './attention.svelte.ts';
import type { Me } from '#lib/shared/api-types.ts';
import type { ChannelEvent, ServerFrame } from '#lib/shared/protocol/frames.ts';
import { ApiClient } from '../api.ts';
import { ChatSync } from './chat-sync.ts';
import { RealtimeConnection, type WebSocketLike } from '../realtime/connection.ts';
import { LocalStorageOutbox } from '../realtime/outbox.ts';
import { toasts, type Toast } from '../app/toasts.svelte.ts';
import { ConnectionStatus } from './connection-status.svelte.ts';
import { Conversation } from './conversation.svelte.ts';
import { BlockList } from './block-list.svelte.ts';
import { Directory } from './directory.svelte.ts';
import { People } from './people.svelte.ts';
import { Presence } from './presence.svelte.ts';
import { OwnProfileState } from '../profile/own-profile.svelte.ts';
import { CommunityEmoji } from './custom-emoji.svelte.ts';
import { Typing } from './typing.svelte.ts';
import { Threads } from './threads.svelte.ts';
import { CallSession } from '../calls/call-session.svelte.ts';
import { MessageCodec } from '../e2ee/message-codec.svelte.ts';
import { E2eeEngine } from '../e2ee/engine.ts';
import { CallMediaEncryption } from '../calls/call-media-encryption.ts';
import { mediaEncryptionSupport, WorkerMediaCrypto } from '../calls/media-crypto.ts';
import { describeUserAgent } from '../format.ts';
import { EngineCipher, UnavailableCipher } from '../e2ee/engine-cipher.ts';
import { IndexedDbE2eeStore } from '../e2ee/key-store.ts';
import { E2eeServerApi } from '../e2ee/server-api.ts';
import type { E2eeStore } from '../e2ee/contracts.ts';
import { MessageSearch } from './message-search.svelte.ts';

export type ChatStateOptions = {
	me: Me;
	/** Called once when the server ends the session (signed out elsewhere, revoked). */
	onSignedOut: () => void;
};

const LAST_CHANNEL_KEY = 'hearth:last-channel:';

export class ChatState {
	me = $state() as Me;
	readonly api = new ApiClient();
	readonly connection: RealtimeConnection;
	readonly sync: ChatSync;
	readonly status = new ConnectionStatus();
	readonly directory: Directory;
	readonly people: People;
	/** People this user blocked (block-list.svelte.ts). */
	readonly blocks: BlockList;
	readonly presence = new Presence();
	/** This person's own avatar, bio, pronouns and custom status. */
	readonly profile: OwnProfileState;
	/** The custom emoji of the communities open on this page. */
	readonly customEmoji: CommunityEmoji;
	readonly typing: Typing;
	/** Reads and seals message bodies (end-to-end encryption); components read messages through it. */
	readonly codec = new MessageCodec();
	/** This browser's encryption device (null when it cannot keep keys: then nothing can be sent). */
	readonly e2ee: E2eeEngine | null = null;
	#e2eeStore: E2eeStore | null = null;
	/** Search over this device's decrypted history (message-search.svelte.ts). */
	readonly search: MessageSearch;
	/** Threads this user follows, their read markers, and the thread open beside the channel. */
	readonly threads: Threads;
	/** Counts in the tab title and favicon, desktop notifications. */
	readonly attention: Attention;
	/** The voice call this page is in (at most one), over the same connection. */
	readonly call: CallSession;
	/** The channel whose messages are on screen, if any. */
	activeChannelId = $state<string | null>(null);
	/** From the server's `ready` frame; `uploadMaxBytes` (encrypted attachment bytes) is unknown until then. */
	limits = $state<{ messageMaxBytes: number; uploadMaxBytes?: number }>({ messageMaxBytes: 16384 });
	/** Resolves once the sidebar (communities, channels, DMs) has loaded the first time. */
	ready: Promise<void> = Promise.resolve();
	#conversations = new Map<string, Conversation>();
	#onSignedOut: () => void;
	/** A request that replaces this device's session (password change) while it is in flight. */
	#sessionRenewal: Promise<unknown> | null = null;
	#stops: (() => void)[] = [];

	constructor(options: ChatStateOptions) {
		this.me = options.me;
		this.#onSignedOut = options.onSignedOut;
		const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
		this.connection = new RealtimeConnection({ url, createSocket: (u) => new WebSocket(u) as unknown as WebSocketLike });
		// (The DOM typings declare handlers with a `this` parameter; the shapes are the same.)
		this.sync = new ChatSync({
			connection: this.connection,
			api: this.api,
			outboxStorage: new LocalStorageOutbox(options.me.id),
			seal: (item) => this.codec.seal(item.channelId, item.payload),
			// Deleted (or expired) messages leave this device's key store too.
			onDeleting: (message) => void this.e2ee?.forgetMessage(message).catch(() => {})
		});
		this.blocks = new BlockList(this.api);
		this.threads = new Threads(this.api, () => this.me.id);
		this.directory = new Directory(this.api, options.me.id, (userId) => this.blocks.has(userId));
		this.people = new People(this.api, options.me);
		this.customEmoji = new CommunityEmoji(this.api);
		this.profile = new OwnProfileState(this.api, options.me.id, (profile) => this.presence.chosen(profile.presence));
		this.typing = new Typing(this.connection);
		this.call = new CallSession({
			signalling: this.connection,
			userId: options.me.id,
			// The engine is made just below (and may be missing: no IndexedDB); the worker on first join.
			encryption: new CallMediaEncryption({
				exchange: () => this.e2ee ?? null,
				crypto: () => {
					const support = mediaEncryptionSupport();
					return support ? new WorkerMediaCrypto(support) : null;
				}
			})
		});
		try {
			this.#e2eeStore = new IndexedDbE2eeStore({ userId: options.me.id });
			this.e2ee = new E2eeEngine({
				userId: options.me.id,
				transport: new E2eeServerApi({ api: this.api }),
				store: this.#e2eeStore,
				deviceName: describeUserAgent(navigator.userAgent)
			});
			this.codec.use(new EngineCipher(this.e2ee, (channelId) => this.directory.channel(channelId)?.kind === 'dm'));
		} catch {
			this.codec.use(new UnavailableCipher('This browser cannot store encryption keys (IndexedDB is unavailable), so it cannot send or read encrypted messages.'));
		}
		this.search = new MessageSearch(this, this.#e2eeStore);
		this.attention = new Attention(this);
	}

	/** Connects and loads the sidebar; returns when the sidebar is loaded (or failed to). */
	start(): Promise<void> {
		const c = this.connection;
		this.#stops.push(
			this.status.attach(c),
			this.presence.track(c),
			c.on('ready', (frame) => {
				this.limits = { messageMaxBytes: frame.limits.messageMaxBytes, uploadMaxBytes: frame.limits.uploadMaxBytes };
				// Key messages queued while this page was away or not yet connected (live ones come as
				// `to-device` frames only from now on): also on the first connect, since a key handed to a
				// brand-new device between its registration's own fetch and this moment would sit in the
				// queue unseen. After a reconnect, keys still missing are asked for again.
				void this.e2ee
					?.syncToDevice()
					.then(() => (c.reconnects > 0 ? this.e2ee?.retryWaitingKeys() : undefined))
					.catch(() => {});
			}),
			c.on('terminated', () => void this.#onTerminated()),
			this.sync.on('timeline', (channelId) => {
				for (const conversation of this.#conversationsOf(channelId)) {
					conversation.refresh();
					conversation.refreshPending();
				}
			}),
			this.sync.on('outbox', () => {
				for (const conversation of this.#conversations.values()) conversation.refreshPending();
			}),
			this.sync.on('event', (channelId, event) => this.#onEvent(channelId, event)),
			this.sync.on('frame', (frame) => this.#onFrame(frame)),
			this.sync.on('resumed', () => {
				// Counts of channels without a loaded timeline are not replayed: refetch them.
				if (c.reconnects > 0) void this.directory.refreshAll().catch(() => {});
			}),
			listen(window, 'online', () => c.setNetworkAvailable(true)),
			listen(window, 'offline', () => c.setNetworkAvailable(false)),
			listen(document, 'visibilitychange', () => {
				if (document.visibilityState === 'visible') c.reconnectNow();
			})
		);
		if (!navigator.onLine) c.setNetworkAvailable(false);
		c.start();
		this.#startEncryption();
		this.#stops.push(this.search.attach());
		this.ready = this.directory.load();
		void this.blocks.load().catch(() => {});
		void this.profile.load().catch(() => {});
		return this.ready;
	}

	stop(): void {
		this.call.destroy();
		for (const stop of this.#stops.splice(0)) stop();
		this.connection.stop();
		this.status.dispose();
		this.typing.dispose();
	}

	/** The state of one channel's message view (kept while the page lives, so drafts survive). */
	conversation(channelId: string): Conversation {
		let conversation = this.#conversations.get(channelId);
		if (!conversation) {
			conversation = new Conversation(this, channelId);
			this.#conversations.set(channelId, conversation);
		}
		return conversation;
	}

	/** A thread of a channel as a conversation of its own (its replies, its composer). */
	thread(channelId: string, rootId: string): Conversation {
		const key = `${channelId}-thread-${rootId}`;
		let conversation = this.#conversations.get(key);
		if (!conversation) {
			conversation = new Conversation(this, channelId, rootId);
			this.#conversations.set(key, conversation);
		}
		return conversation;
	}

	/** The channel's conversation and those of its threads opened so far. */
	*#conversationsOf(channelId: string): Iterable<Conversation> {
		for (const conversation of this.#conversations.values()) if (conversation.channelId === channelId) yield conversation;
	}

	/** Opens a thread beside its channel (one at a time); loads it the first time. */
	openThread(channelId: string, rootId: string): Conversation {
		const conversation = this.thread(channelId, rootId);
		// The panel loads it when it shows (after navigating to the channel, when opened from elsewhere).
		this.threads.open = { channelId, rootId };
		return conversation;
	}

	closeThread(): void {
		const open = this.threads.open;
		if (open) this.thread(open.channelId, open.rootId).setReading(false);
		this.threads.open = null;
	}

	/**
	 * The channel's messages are now on screen: load them, know the names in them, remember the
	 * place. Returns what to call when leaving it.
	 */
	enterChannel(channelId: string): () => void {
		const conversation = this.conversation(channelId);
		this.activeChannelId = channelId;
		void this.ready.then(() => {
			const channel = this.directory.channel(channelId);
			if (channel?.peer) this.people.remember(channel.peer);
			if (channel?.communityId) {
				this.rememberChannel(channel.communityId, channelId);
				void this.people.ensureMembers(channel.communityId).catch(() => {});
			}
			if (this.activeChannelId !== channelId) return;
			void this.threads.load(channelId).catch(() => {});
			return conversation.open();
		});
		return () => {
			conversation.close();
			if (this.activeChannelId === channelId) this.activeChannelId = null;
			// A thread belongs beside its channel: leaving the channel closes it.
			if (this.threads.open?.channelId === channelId) this.closeThread();
		};
	}

	// --- where the user was --------------------------------------------------------------------------

	rememberChannel(communityId: string, channelId: string): void {
		try {
			localStorage.setItem(LAST_CHANNEL_KEY + communityId, channelId);
		} catch {
			// Not remembered: the community opens on its first channel.
		}
	}

	/** Where a community link leads: its last visited (or first) channel. */
	communityHref(communityId: string): string {
		let remembered: string | null = null;
		try {
			remembered = localStorage.getItem(LAST_CHANNEL_KEY + communityId);
		} catch {
			// ignore
		}
		const channel = this.directory.defaultChannel(communityId, remembered);
		return channel ? `/c/${communityId}/${channel.id}` : `/c/${communityId}`;
	}

	// --- actions on messages (over /ws when connected, else REST) ------------------------------------

	async editMessage(messageId: string, payload: string): Promise<void> {
		if (this.connection.state === 'open') await this.connection.request({ t: 'message.edit', messageId, payload });
		else await this.api.patch(`/api/messages/${messageId}`, { payload });
	}

	async deleteMessage(messageId: string): Promise<void> {
		if (this.connection.state === 'open') await this.connection.request({ t: 'message.delete', messageId });
		else await this.api.delete(`/api/messages/${messageId}`);
	}

	async react(messageId: string, key: string, add: boolean): Promise<void> {
		if (this.connection.state === 'open') {
			await this.connection.request({ t: add ? 'reaction.add' : 'reaction.remove', messageId, key });
			return;
		}
		const path = `/api/messages/${messageId}/reactions/${encodeURIComponent(key)}`;
		await (add ? this.api.put(path) : this.api.delete(path));
	}

	async pin(messageId: string, pinned: boolean): Promise<void> {
		if (this.connection.state === 'open') await this.connection.request({ t: pinned ? 'message.pin' : 'message.unpin', messageId });
		else await (pinned ? this.api.put(`/api/messages/${messageId}/pin`) : this.api.delete(`/api/messages/${messageId}/pin`));
	}

	sendRead(channelId: string, seq: number): void {
		if (!this.connection.send({ t: 'read', channelId, seq })) {
			void this.api.post(`/api/channels/${channelId}/read`, { seq }).catch(() => {});
		}
	}

	// --- account -------------------------------------------------------------------------------------

	async signOut(): Promise<void> {
		try {
			await this.api.post('/api/auth/sign-out');
			// Signing out removes this device on the server: its keys are of no use any more.
			await this.#e2eeStore?.clear().catch(() => {});
		} finally {
			this.stop();
		}
	}

	#startEncryption() {
		const engine = this.e2ee;
		if (!engine) return;
		this.#stops.push(
			engine.onStatus((status) => {
				if (status.state === 'ready' && 'replacedRemovedDevice' in status) {
					this.notify('This device was signed out, so its old encryption keys were erased. It has new keys now.', 'info');
				}
			})
		);
		engine.start().catch(() => {
			this.notify('End-to-end encryption could not start on this device. Messages cannot be sent until it does; reload to try again.', 'error');
		});
	}

	/** Runs a request that revokes every session but issues this device a new one. */
	async renewingSession<T>(request: Promise<T>): Promise<T> {
		this.#sessionRenewal = request;
		try {
			return await request;
		} finally {
			if (this.#sessionRenewal === request) this.#sessionRenewal = null;
		}
	}

	updateMe(me: Me): void {
		this.me = me;
		this.people.remember(me);
	}

	get isInstanceAdmin(): boolean {
		return this.me.instanceRole === 'owner' || this.me.instanceRole === 'admin';
	}

	notify(text: string, kind: Toast['kind'] = 'info'): void {
		toasts.show(text, kind);
	}

	notifyError(error: unknown): void {
		toasts.error(error);
	}

	// ------------------------------------------------------------------------------------------------

	/**
	 * The server closed the connection for good (no session, or it was revoked). Changing the
	 * password revokes every session but gives this device a new one: then reconnect. Otherwise
	 * the person is signed out.
	 */
	async #onTerminated() {
		// The close can overtake the response that carries the new session cookie.
		await this.#sessionRenewal?.catch(() => {});
		try {
			const { user } = await this.api.get<{ user: Me }>('/api/me');
			if (user.id === this.me.id) {
				this.connection.start();
				return;
			}
		} catch {
			// Not signed in any more (or the server cannot tell): sign in again.
		}
		this.#onSignedOut();
	}

	#onEvent(channelId: string, event: ChannelEvent) {
		const isNewFromOthers = this.directory.applyEvent(channelId, event);
		const conversation = this.#conversations.get(channelId);
		if ((event.type === 'message.created' || event.type === 'message.deleted') && event.thread) {
			this.threads.applyEvent(channelId, event, this.sync.timeline(channelId)?.get(event.thread.rootId));
		}
		if (event.type === 'message.created' && event.message.threadRootId) {
			// A thread reply: the channel's divider and read marker are not about it; mentions still notify.
			this.typing.stopped(channelId, event.message.authorId);
			if (isNewFromOthers && Date.now() - Date.parse(event.message.createdAt) < 120_000) void this.attention.messageArrived(event.message).catch(() => {});
			return;
		}
		if (event.type === 'message.created') {
			this.typing.stopped(channelId, event.message.authorId);
			if (isNewFromOthers && conversation && this.activeChannelId === channelId) {
				if (conversation.reading) conversation.markRead();
				else conversation.noteUnseen(event.seq);
			}
			// Desktop notifications are for what happens now, not for a backlog replayed after a reconnect.
			if (isNewFromOthers && Date.now() - Date.parse(event.message.createdAt) < 120_000) void this.attention.messageArrived(event.message).catch(() => {});
		}
		if (event.type === 'member.joined' || event.type === 'member.left') {
			const communityId = this.directory.channel(channelId)?.communityId;
			if (communityId) this.people.refreshLoaded(communityId);
		}
	}

	#onFrame(frame: ServerFrame) {
		switch (frame.t) {
			case 'presence':
				this.presence.apply(frame);
				return;
			case 'presence.chosen':
				this.presence.chosen(frame.choice);
				return;
			case 'typing':
				if (frame.userId !== this.me.id) this.typing.received(frame.channelId, frame.userId);
				return;
			case 'read':
				this.directory.applyRead(frame);
				return;
			case 'thread.mark':
				this.threads.applyMark(frame);
				return;
			case 'directory.changed':
				this.directory.applyDirectoryChange(frame);
				if (frame.reason === 'user.updated' || frame.reason === 'community.joined') this.people.refreshLoaded(frame.communityId);
				if (frame.reason === 'community.left' && frame.communityId) this.people.forget(frame.communityId);
				if (frame.reason === 'community.updated') this.customEmoji.refresh(frame.communityId);
				return;
			case 'to-device':
				void this.e2ee?.receiveToDevice(frame.messages).catch(() => {});
				return;
			case 'devices.changed':
				// A newcomer's device appeared: hand it our recent keys; or a sender's: ask again for what we wait for.
				void this.e2ee?.devicesChanged(frame.userId).catch(() => {});
				return;
			case 'error':
				// An error without a request id: a frame we sent was refused (rate limit, bad frame).
				if (frame.code === 'rate_limited') this.notify('Slow down a little: too many actions at once.', 'error');
				return;
		}
	}
}

function listen(target: EventTarget, type: string, handler: () => void): () => void {
	target.addEventListener(type, handler);
	return () => target.removeEventListener(type, handler);
}
