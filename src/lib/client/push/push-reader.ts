// What the service worker shows for a push: it opens the message with this browser's own keys (the
// engine in read-only mode, on the same IndexedDB key store and device lock as the page) and shows
// the sender and the text. The push carries only the message's ciphertext; when it could not carry
// it, the message is fetched. Whatever fails, a notification is shown, saying where the message is.
// Decrypting here also stores what was opened (a direct message's key, the search index), so the
// page never has to take a ratchet step twice.
import { mentionsUser } from '#lib/shared/mentions.ts';
import type { PushPayload } from '#lib/shared/push.ts';
import type { HistoryPage } from '#lib/shared/api-types.ts';
import { E2eeEngine } from '../e2ee/engine.ts';
import { IndexedDbE2eeStore } from '../e2ee/key-store.ts';
import { E2eeServerApi } from '../e2ee/server-api.ts';
import { ApiClient } from '../api.ts';
import type { SealedMessage } from '../e2ee/message-codec.svelte.ts';
import type { Mentions } from '#lib/shared/mentions.ts';

/** `outcome` says why the text is or is not shown (never the text): for support and tests. */
export type PushNotification = {
	title: string;
	options: NotificationOptions & { data: { url: string; messageId: string; channelId: string; outcome: string } };
};

/** Longest text shown in a notification. */
const BODY_MAX_CHARS = 240;
/** A push must be shown promptly: decryption that takes longer gives way to the plain notice. */
const OPEN_TIMEOUT_MS = 8000;

export function parsePushPayload(text: string): PushPayload | null {
	try {
		const data = JSON.parse(text) as PushPayload;
		if (data?.v !== 1 || typeof data.messageId !== 'string' || typeof data.channelId !== 'string' || typeof data.userId !== 'string') return null;
		return data;
	} catch {
		return null;
	}
}

/** Where a click on the notification leads: the conversation, loaded back to the message. */
export function conversationUrl(payload: Pick<PushPayload, 'communityId' | 'channelId' | 'messageId' | 'seq'>): string {
	const base = payload.communityId ? `/c/${payload.communityId}/${payload.channelId}` : `/dm/${payload.channelId}`;
	return `${base}?message=${encodeURIComponent(payload.messageId)}&seq=${payload.seq}`;
}

/** The notification without the text: who wrote where. */
export function plainNotification(payload: PushPayload): PushNotification {
	const dm = payload.communityId === null;
	return {
		title: dm ? payload.authorName : `${payload.authorName} in ${payload.place}`,
		options: {
			body: dm ? 'New direct message' : `New message in ${payload.place}`,
			tag: `hearth:${payload.channelId}`,
			data: { url: conversationUrl(payload), messageId: payload.messageId, channelId: payload.channelId, outcome: 'plain' }
		}
	};
}

function withOutcome(notification: PushNotification, outcome: string): PushNotification {
	return { ...notification, options: { ...notification.options, data: { ...notification.options.data, outcome } } };
}

async function sealedMessage(api: ApiClient, payload: PushPayload): Promise<SealedMessage | null> {
	if (payload.payload) return { id: payload.messageId, channelId: payload.channelId, authorId: payload.authorId, payload: payload.payload };
	const page = await api.get<HistoryPage>(`/api/channels/${payload.channelId}/messages?after=${Math.max(0, payload.seq - 1)}&limit=1`);
	const message = page.messages.find((m) => m.id === payload.messageId);
	return message && !message.deletedAt ? message : null;
}

/** The notification for a push: decrypted when this browser can, else the plain one. */
export async function notificationFor(payload: PushPayload): Promise<PushNotification> {
	const plain = plainNotification(payload);
	const api = new ApiClient();
	const engine = new E2eeEngine({
		userId: payload.userId,
		transport: new E2eeServerApi({ api }),
		store: new IndexedDbE2eeStore({ userId: payload.userId }),
		deviceName: '',
		readOnly: true
	});
	try {
		const opened = (async () => {
			const message = await sealedMessage(api, payload);
			if (!message) return null;
			return engine.open(message);
		})();
		const view = await Promise.race([opened, new Promise<null>((resolve) => setTimeout(() => resolve(null), OPEN_TIMEOUT_MS))]);
		if (!view) return withOutcome(plain, 'timed out or message gone');
		if (view.state !== 'ok') return withOutcome(plain, view.state === 'undecryptable' ? `undecryptable: ${view.reason}` : view.state);
		// A channel message pushed for a mention must say so inside too (a server cannot invent one).
		const mentioned = mentionsUser(payload.mentions as Mentions | undefined, view.content.mentions, payload.userId);
		const text = view.content.text.trim() || (view.content.attachments?.length ? 'Sent a file' : '');
		if (!text) return withOutcome(plain, 'empty');
		return {
			title: plain.title,
			options: {
				...plain.options,
				body: text.length > BODY_MAX_CHARS ? `${text.slice(0, BODY_MAX_CHARS - 1)}…` : text,
				...(mentioned ? { renotify: true } : {}),
				data: { ...plain.options.data, outcome: 'decrypted' }
			}
		};
	} catch (error) {
		return withOutcome(plain, `failed: ${error instanceof Error ? `${error.name}: ${error.message}` : 'unknown'}`);
	} finally {
		engine.dispose();
	}
}
