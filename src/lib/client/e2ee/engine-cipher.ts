// The message codec's cipher once end-to-end encryption is on: every new message is sealed by the
// engine (hearth.dm.v1 in 1:1 DMs, sender keys elsewhere), payloads are opened by it, and reaction
// keys are the emoji encrypted under the message's reaction key `rk`. Plaintext payloads written
// before encryption still open (read-only history); nothing new is ever sent in the clear.
import type { E2eeEngine } from './engine.ts';
import { isEncryptedPayload } from './envelopes.ts';
import { PlaintextCipher, type DecryptedView, type MessageCipher, type MessageContent, type OpenOptions, type SealedMessage } from './message-codec.svelte.ts';
import { decryptReactionKey, encryptReactionKey } from './message-content.ts';
import { loadSodium } from './sodium.ts';

export class EngineCipher implements MessageCipher {
	#engine: E2eeEngine;
	#isDirect: (channelId: string) => boolean;

	/** `isDirect`: whether a channel is a 1:1 direct message (then hearth.dm.v1). */
	constructor(engine: E2eeEngine, isDirect: (channelId: string) => boolean) {
		this.#engine = engine;
		this.#isDirect = isDirect;
	}

	seal(channelId: string, draft: string): Promise<string> {
		return this.#engine.seal(channelId, draft, { direct: this.#isDirect(channelId) });
	}

	open(message: SealedMessage, options?: OpenOptions): Promise<DecryptedView> {
		return this.#engine.open(message, options);
	}

	openNow(message: SealedMessage): DecryptedView | undefined {
		return this.#engine.openNow(message);
	}

	async reactionKey(content: MessageContent, emoji: string): Promise<string> {
		if (!content.rk) return emoji; // a plaintext message from before encryption
		return encryptReactionKey(await loadSodium(), content.rk, emoji);
	}

	async reactionEmoji(content: MessageContent, key: string): Promise<string | null> {
		if (!content.rk) return key;
		try {
			return decryptReactionKey(await loadSodium(), content.rk, key);
		} catch {
			return null;
		}
	}

	onKeysChanged(listener: () => void): () => void {
		return this.#engine.onKeysChanged(listener);
	}
}

/** Used when this browser cannot keep keys (no IndexedDB): reading old plaintext works, sending fails visibly. */
export class UnavailableCipher implements MessageCipher {
	#reason: string;
	constructor(reason: string) {
		this.#reason = reason;
	}
	async seal(): Promise<string> {
		throw new Error(this.#reason);
	}
	async open(message: SealedMessage): Promise<DecryptedView> {
		return this.openNow(message);
	}
	openNow(message: SealedMessage): DecryptedView {
		if (!isEncryptedPayload(message.payload)) return new PlaintextCipher().openNow(message);
		return { state: 'undecryptable', reason: this.#reason };
	}
	async reactionKey(): Promise<string> {
		throw new Error(this.#reason);
	}
	async reactionEmoji(): Promise<string | null> {
		return null;
	}
	onKeysChanged(): () => void {
		return () => {};
	}
}
