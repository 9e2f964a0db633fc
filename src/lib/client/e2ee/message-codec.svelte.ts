// The one seam between the chat and message encryption. Components and the conversation never read
// a payload themselves: they ask this codec for the decrypted view of a message, which is
// asynchronous (keys may have to be loaded, may arrive later over to-device messages) and reactive
// (a view that was pending or undecryptable re-renders when keys arrive). Sending goes through
// `seal`, which the outbox calls at send time.
//
// Which cipher sits behind it is the engine's business: `PlaintextCipher` reads the v1 plaintext
// bodies written before end-to-end encryption (and is what runs until the engine is ready);
// the E2EE engine (engine.ts) seals every new message and opens both schemes.
import { SvelteMap } from 'svelte/reactivity';
import { decodeMessageBody } from '#lib/shared/message-body.ts';
import { attachmentsOf } from './attachment-transfer.ts';
import type { AttachmentRef } from './message-content.ts';
import { Mentions } from '#lib/shared/mentions.ts';
import * as v from 'valibot';

/** What a reply shows of the message it answers, carried inside the (encrypted) reply. */
export type QuotedMessage = { messageId?: string; authorId: string; text: string };

/** A message's plaintext, whichever scheme carried it. */
export type MessageContent = {
	text: string;
	/** Per-message reaction key (32 bytes, base64url): reactions are encrypted under it. Absent on legacy plaintext. */
	rk?: string;
	quote?: QuotedMessage;
	/** Encrypted files: their keys travel here, inside the encrypted content. */
	attachments?: AttachmentRef[];
	/** Who the sender mentioned, as the encrypted content states it (compare with the routing field). */
	mentions?: Mentions;
};

/**
 * What the composer hands to the outbox: JSON of {v:1, text, quote?, rk?, attachments?, mentions?}.
 * It never leaves this device in the clear. `rk` is set by edits: the edited message keeps its
 * reaction key, so the reactions it already has still read (and its mentions, which are fixed
 * when it is sent).
 */
export type DraftBody = { v: 1; text: string; quote?: QuotedMessage; rk?: string; attachments?: AttachmentRef[]; mentions?: Mentions };

export type DraftParts = { quote?: QuotedMessage | undefined; rk?: string | undefined; attachments?: AttachmentRef[] | undefined; mentions?: Mentions | null | undefined };

export function encodeDraft(text: string, parts: DraftParts = {}): string {
	const { quote, rk, attachments, mentions } = parts;
	return JSON.stringify({
		v: 1,
		text,
		...(quote ? { quote } : {}),
		...(rk ? { rk } : {}),
		...(attachments?.length ? { attachments } : {}),
		...(mentions ? { mentions } : {})
	} satisfies DraftBody);
}

export function decodeDraft(payload: string): DraftBody | null {
	const body = decodeMessageBody(payload);
	if (!body) return null;
	let quote: QuotedMessage | undefined;
	let rk: string | undefined;
	let attachments: AttachmentRef[] = [];
	let mentions: Mentions | undefined;
	try {
		const data = JSON.parse(payload) as { quote?: unknown; rk?: unknown; mentions?: unknown };
		attachments = attachmentsOf(data);
		if (typeof data.rk === 'string') rk = data.rk;
		const parsed = v.safeParse(Mentions, data.mentions);
		if (parsed.success) mentions = parsed.output;
		const q = data.quote as QuotedMessage | undefined;
		if (q && typeof q.authorId === 'string' && typeof q.text === 'string') {
			quote = { ...(typeof q.messageId === 'string' ? { messageId: q.messageId } : {}), authorId: q.authorId, text: q.text };
		}
	} catch {
		// decodeMessageBody parsed it already
	}
	return { v: 1, text: body.text, ...(quote ? { quote } : {}), ...(rk ? { rk } : {}), ...(attachments.length ? { attachments } : {}), ...(mentions ? { mentions } : {}) };
}

export type DecryptedView =
	| { state: 'ok'; content: MessageContent; encrypted: boolean }
	| { state: 'pending' }
	/** No key (yet) for it; `senderDeviceId` names the device that sent it when known. */
	| { state: 'undecryptable'; reason: string; senderDeviceId?: string; /** What the person can do about it. */ hint?: string }
	/** Signature, author or tampering check failed: never shown as text. */
	| { state: 'forged' };

/** The parts of a message a cipher needs. */
export type SealedMessage = { id: string; channelId: string; authorId: string; payload: string };
/**
 * `revision`: the payload is an earlier version of an edited message (its edit history). It opens
 * like the message, but stays out of the local search index, which holds each message's current text.
 */
export type OpenOptions = { revision?: boolean };

export interface MessageCipher {
	/** Encrypts a draft body (JSON of DraftBody) for the channel; throws when it cannot (never falls back). */
	seal(channelId: string, draft: string): Promise<string>;
	open(message: SealedMessage, options?: OpenOptions): Promise<DecryptedView>;
	/** The view when it is known without waiting (plaintext, or already decrypted), else undefined. */
	openNow(message: SealedMessage): DecryptedView | undefined;
	/** The opaque server key of a reaction with `emoji` on a message with this content. */
	reactionKey(content: MessageContent, emoji: string): Promise<string>;
	/** The emoji behind an opaque reaction key, or null when it is not one for this content. */
	reactionEmoji(content: MessageContent, key: string): Promise<string | null>;
	/** Called when new keys arrived: undecryptable messages are worth another try. */
	onKeysChanged(listener: () => void): () => void;
}

/** Plaintext v1 bodies, as before end-to-end encryption. Reactions are the emoji themselves. */
export class PlaintextCipher implements MessageCipher {
	async seal(_channelId: string, draft: string): Promise<string> {
		return draft;
	}
	async open(message: SealedMessage): Promise<DecryptedView> {
		return this.openNow(message);
	}
	openNow(message: SealedMessage): DecryptedView {
		const body = decodeDraft(message.payload);
		if (!body) return { state: 'undecryptable', reason: 'This message cannot be displayed on this device.' };
		return { state: 'ok', content: { text: body.text, ...(body.quote ? { quote: body.quote } : {}) }, encrypted: false };
	}
	async reactionKey(_content: MessageContent, emoji: string): Promise<string> {
		return emoji;
	}
	async reactionEmoji(_content: MessageContent, key: string): Promise<string | null> {
		return key;
	}
	onKeysChanged(): () => void {
		return () => {};
	}
}

const PENDING: DecryptedView = { state: 'pending' };

export class MessageCodec {
	#cipher: MessageCipher;
	/** message id → the payload it was opened from and the result. Reactive: views re-render on change. */
	#views = new SvelteMap<string, { payload: string; view: DecryptedView }>();
	/** `${rk}\u0000${key}` → emoji (or null). Reactive. */
	#reactions = new SvelteMap<string, string | null>();
	#opening = new Set<string>();
	#stopListening: () => void;

	constructor(cipher: MessageCipher = new PlaintextCipher()) {
		this.#cipher = cipher;
		this.#stopListening = cipher.onKeysChanged(() => this.retryUndecryptable());
	}

	/** Switches to another cipher (the engine became ready, or the device was signed out): views are recomputed. */
	use(cipher: MessageCipher): void {
		this.#stopListening();
		this.#cipher = cipher;
		this.#stopListening = cipher.onKeysChanged(() => this.retryUndecryptable());
		this.#views.clear();
		this.#reactions.clear();
	}

	get cipher(): MessageCipher {
		return this.#cipher;
	}

	seal(channelId: string, draft: string): Promise<string> {
		return this.#cipher.seal(channelId, draft);
	}

	/**
	 * The decrypted view of a message. Safe inside `$derived`: it never writes state synchronously;
	 * a missing view is opened in a microtask and the result re-renders whoever read it.
	 */
	view(message: SealedMessage): DecryptedView {
		const known = this.#views.get(message.id);
		if (known && known.payload === message.payload) return known.view;
		// Cheap answers (plaintext, or already decrypted by the cipher) are not cached twice.
		const now = this.#cipher.openNow(message);
		if (now) return now;
		this.#open(message);
		return known?.view.state === 'ok' ? known.view : PENDING;
	}

	/** Waits for the view (used by actions: edit, report, reply quote). */
	async viewAsync(message: SealedMessage): Promise<DecryptedView> {
		const known = this.#views.get(message.id);
		if (known && known.payload === message.payload && known.view.state !== 'pending') return known.view;
		const view = await this.#cipher.open(message);
		this.#store(message, view);
		return view;
	}

	/** The text of a message when it could be read, else null. */
	text(message: SealedMessage): string | null {
		const view = this.view(message);
		return view.state === 'ok' ? view.content.text : null;
	}

	/** Tries again every message that could not be decrypted (new keys arrived). */
	retryUndecryptable(): void {
		for (const [id, entry] of this.#views) {
			if (entry.view.state === 'undecryptable') this.#views.delete(id);
		}
	}

	async reactionKey(message: SealedMessage, emoji: string): Promise<string> {
		const view = await this.viewAsync(message);
		if (view.state !== 'ok') throw new Error('This message cannot be read on this device, so it cannot be reacted to.');
		return this.#cipher.reactionKey(view.content, emoji);
	}

	/** The emoji of an opaque reaction key on a message, or null while unknown (reactive). */
	reactionEmoji(message: SealedMessage, key: string): string | null {
		const view = this.view(message);
		if (view.state !== 'ok') return null;
		// Reactions on plaintext (pre-encryption) messages are the emoji themselves.
		if (!view.content.rk) return key;
		const cacheKey = `${view.content.rk ?? ''}\u0000${key}`;
		if (this.#reactions.has(cacheKey)) return this.#reactions.get(cacheKey) ?? null;
		const content = view.content;
		queueMicrotask(() => {
			if (this.#reactions.has(cacheKey)) return;
			void this.#cipher.reactionEmoji(content, key).then(
				(emoji) => this.#reactions.set(cacheKey, emoji),
				() => this.#reactions.set(cacheKey, null)
			);
		});
		return null;
	}

	dispose(): void {
		this.#stopListening();
	}

	#open(message: SealedMessage) {
		const tag = `${message.id}\u0000${message.payload}`;
		if (this.#opening.has(tag)) return;
		this.#opening.add(tag);
		queueMicrotask(() => {
			this.#cipher
				.open(message)
				.catch((): DecryptedView => ({ state: 'undecryptable', reason: 'This message could not be decrypted.' }))
				.then((view) => this.#store(message, view))
				.finally(() => this.#opening.delete(tag));
		});
	}

	#store(message: SealedMessage, view: DecryptedView) {
		const known = this.#views.get(message.id);
		if (known && known.payload === message.payload && known.view.state === view.state && view.state !== 'ok') return;
		if (known && known.payload === message.payload && known.view === view) return;
		this.#views.set(message.id, { payload: message.payload, view });
	}
}
