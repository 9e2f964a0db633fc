// What asks for this person's attention while Hearth is open in a tab: the counts in the tab title
// and on the favicon, and a desktop notification (the Notifications API) for a new message they
// should hear about while the tab is hidden or in the background. By default that is a direct
// message or a mention of them (checked against the encrypted content, never the routing field
// alone); other channel messages only count. The browser's permission prompt appears only when the
// person turns notifications on in Settings.
import { mentionsUser } from '#lib/shared/mentions.ts';
import { effectiveLevel, type NotificationLevel, type NotificationSettingsView } from '#lib/shared/push.ts';
import { SvelteMap } from 'svelte/reactivity';
import type { ApiClient } from '../api.ts';
import type { MessageView } from '#lib/shared/protocol/frames.ts';
import type { ChatState } from './chat-state.svelte.ts';

/** "(@2 · 5) " for two mentions (or direct messages) among five unread messages; "" when all is read. */
export function titlePrefix(attention: number, unread: number): string {
	const cap = (n: number) => (n > 999 ? '999+' : String(n));
	if (attention > 0 && unread > attention) return `(@${cap(attention)} · ${cap(unread)}) `;
	if (attention > 0) return `(@${cap(attention)}) `;
	if (unread > 0) return `(${cap(unread)}) `;
	return '';
}

const PREFIX = /^\((@?[\d+]+)( · [\d+]+)?\) /;

/** The title with its count prefix replaced. */
export function titleWithCounts(title: string, attention: number, unread: number): string {
	return titlePrefix(attention, unread) + title.replace(PREFIX, '');
}

/** Per-browser choice (localStorage): notifications are off until the person turns them on. */
export class NotificationPrefs {
	desktop = $state(false);
	#key: string;

	constructor(userId: string) {
		this.#key = `hearth:notifications:${userId}`;
		try {
			this.desktop = JSON.parse(localStorage.getItem(this.#key) ?? '{}').desktop === true;
		} catch {
			this.desktop = false;
		}
	}

	/** What the browser allows: 'unsupported' where there is no Notifications API. */
	get permission(): NotificationPermission | 'unsupported' {
		return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
	}

	/** Turns desktop notifications on (asking the browser now, since the person asked) or off. */
	async setDesktop(on: boolean): Promise<boolean> {
		if (on && this.permission === 'unsupported') return false;
		if (on && Notification.permission !== 'granted') {
			if ((await Notification.requestPermission()) !== 'granted') return false;
		}
		this.desktop = on;
		try {
			localStorage.setItem(this.#key, JSON.stringify({ desktop: on }));
		} catch {
			// Storage disabled: the choice holds for this page only.
		}
		return true;
	}
}

/** The account's notification settings on the server (levels, do-not-disturb, push on this browser). */
export class NotificationSettings {
	levels = new SvelteMap<string, NotificationLevel>();
	quietUntil = $state<string | null>(null);
	subscribed = $state(false);
	publicKey = $state<string | null>(null);
	loaded = $state(false);
	#api: ApiClient;

	constructor(api: ApiClient) {
		this.#api = api;
	}

	async load(): Promise<void> {
		const view = await this.#api.get<NotificationSettingsView>('/api/me/notifications');
		this.levels.clear();
		for (const { targetId, level } of view.levels) this.levels.set(targetId, level);
		this.quietUntil = view.quietUntil;
		this.subscribed = view.subscribed;
		this.publicKey = view.publicKey;
		this.loaded = true;
	}

	get quiet(): boolean {
		return this.quietUntil !== null && Date.parse(this.quietUntil) > Date.now();
	}

	async setLevel(targetId: string, level: NotificationLevel | null): Promise<void> {
		await this.#api.put(`/api/me/notifications/levels/${targetId}`, { level });
		if (level === null) this.levels.delete(targetId);
		else this.levels.set(targetId, level);
	}

	async setQuiet(until: Date | null): Promise<void> {
		await this.#api.put('/api/me/notifications/quiet', { until: until?.toISOString() ?? null });
		this.quietUntil = until?.toISOString() ?? null;
	}
}

export class Attention {
	readonly prefs: NotificationPrefs;
	readonly settings: NotificationSettings;
	#chat: ChatState;
	#favicon: { link: HTMLLinkElement; original: string } | null = null;
	#lastBadge = -1;

	constructor(chat: ChatState) {
		this.#chat = chat;
		this.prefs = new NotificationPrefs(chat.me.id);
		this.settings = new NotificationSettings(chat.api);
	}

	/** Puts the counts in front of the current title and on the favicon (call whenever either may have changed). */
	render(): void {
		const dir = this.#chat.directory;
		const attention = dir.attention;
		const next = titleWithCounts(document.title, attention, dir.totalUnread);
		if (next !== document.title) document.title = next;
		this.#badgeFavicon(attention);
	}

	/**
	 * A new message from someone else arrived. Shows a desktop notification when the person wants one
	 * (turned on, a DM or a mention of them) and is not looking at the page.
	 */
	async messageArrived(message: MessageView): Promise<void> {
		if (!this.prefs.desktop || this.prefs.permission !== 'granted') return;
		if (message.authorId === this.#chat.me.id || message.deletedAt) return;
		// Nobody is notified of a message by someone they blocked (the server does not push it either).
		if (this.#chat.blocks.has(message.authorId)) return;
		// Someone looking at the tab sees the badges; a notification is for when they are elsewhere.
		if (document.visibilityState === 'visible' && document.hasFocus()) return;
		const channel = this.#chat.directory.channel(message.channelId);
		if (!channel) return;
		// The same rules as push (server/services/push.ts): levels, quiet hours, the presence "do not disturb".
		if (!this.settings.loaded) await this.settings.load().catch(() => {});
		if (this.settings.quiet || this.#chat.presence.choice === 'dnd') return;
		const level = effectiveLevel(this.settings.levels, channel.id, channel.communityId);
		if (level === 'none') return;
		const view = await this.#chat.codec.viewAsync(message);
		const isDm = channel.kind === 'dm';
		const mentioned = view.state === 'ok' && mentionsUser(message.mentions, view.content.mentions, this.#chat.me.id);
		if (!isDm && !mentioned && level !== 'all') return;
		const author = this.#chat.people.name(message.authorId);
		const where = isDm ? author : `${author} in #${channel.name}`;
		// The text is shown only once this device decrypted it; otherwise the place, never ciphertext.
		const body = view.state === 'ok' ? view.content.text.slice(0, 240) || 'Sent a file' : `New message in ${isDm ? 'a direct message' : `#${channel.name}`}`;
		const notification = new Notification(where, { body, tag: `hearth:${message.channelId}`, icon: '/favicon.svg' });
		notification.onclick = () => {
			window.focus();
			const rootId = message.threadRootId;
			// A thread reply opens its thread beside the channel; a channel message is scrolled to.
			if (!rootId) this.#chat.search.jumpTarget = { channelId: message.channelId, messageId: message.id, seq: message.seq };
			void import('$app/navigation')
				.then(({ goto }) => goto(this.#chat.search.href(message.channelId)))
				.then(() => {
					if (rootId) this.#chat.openThread(message.channelId, rootId);
				});
			// (The service worker's notifications, when the app is closed, use ?message=&seq= instead.)
			notification.close();
		};
	}

	/** Draws the count on the favicon (a red disc), or restores the plain one. */
	#badgeFavicon(count: number): void {
		if (count === this.#lastBadge) return;
		this.#lastBadge = count;
		const link = this.#favicon?.link ?? document.querySelector<HTMLLinkElement>('link[rel~="icon"]');
		if (!link) return;
		this.#favicon ??= { link, original: link.href };
		if (count === 0) {
			link.href = this.#favicon.original;
			return;
		}
		const image = new Image();
		image.onload = () => {
			if (this.#lastBadge !== count) return;
			const canvas = document.createElement('canvas');
			canvas.width = canvas.height = 64;
			const g = canvas.getContext('2d');
			if (!g) return;
			g.drawImage(image, 0, 0, 64, 64);
			g.fillStyle = '#d63a2e';
			g.beginPath();
			g.arc(46, 18, 18, 0, Math.PI * 2);
			g.fill();
			g.fillStyle = '#fff';
			g.font = 'bold 24px system-ui, sans-serif';
			g.textAlign = 'center';
			g.textBaseline = 'middle';
			g.fillText(count > 9 ? '9+' : String(count), 46, 19);
			link.href = canvas.toDataURL('image/png');
		};
		image.src = this.#favicon.original;
	}
}
