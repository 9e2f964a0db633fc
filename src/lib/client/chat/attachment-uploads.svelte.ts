// The files waiting in one channel's composer: each is encrypted and uploaded as soon as it is
// picked, dropped or pasted (so sending is instant), with its progress, a cancel button and its
// error. Sending puts the references of the finished uploads into the draft, which the message
// codec encrypts like any message (key, header, name, type and size never reach the server in the
// clear). The size limit is checked before a byte is read; the server's 413 is shown plainly.
import type { AttachmentRef } from '../e2ee/message-content.ts';
import { encodeDraft, type QuotedMessage } from '../e2ee/message-codec.svelte.ts';
import { loadSodium } from '../e2ee/sodium.ts';
import {
	attachmentSizeProblem,
	encryptAndUpload,
	MESSAGE_ATTACHMENTS_MAX,
	UploadCancelledError,
	uploadErrorMessage,
	xhrUploader,
	type CiphertextUploader,
	type TransferProgress
} from '../e2ee/attachment-transfer.ts';
import type { ChatState } from './chat-state.svelte.ts';
import { checkMessageText, type Conversation } from './conversation.svelte.ts';

export type UploadItem = {
	/** Local id of this pick (not the server's attachment id). */
	key: string;
	name: string;
	size: number;
	type: string;
	state: 'encrypting' | 'uploading' | 'ready' | 'failed';
	/** 0..1 over both phases: encrypting is the first tenth (local, fast), uploading the rest. */
	progress: number;
	error?: string;
	ref?: AttachmentRef;
};

const ENCRYPT_SHARE = 0.1;

export class AttachmentUploads {
	readonly channelId: string;
	items = $state<UploadItem[]>([]);
	#chat: ChatState;
	#upload: CiphertextUploader;
	#controllers = new Map<string, AbortController>();
	#counter = 0;

	constructor(chat: ChatState, channelId: string, upload?: CiphertextUploader) {
		this.#chat = chat;
		this.channelId = channelId;
		this.#upload = upload ?? xhrUploader((fresh) => chat.api.csrfToken(fresh));
	}

	get busy(): boolean {
		return this.items.some((item) => item.state === 'encrypting' || item.state === 'uploading');
	}

	get ready(): AttachmentRef[] {
		return this.items.flatMap((item) => (item.state === 'ready' && item.ref ? [item.ref] : []));
	}

	/** Starts encrypting and uploading the files; refuses (with a message) too many or too large ones. */
	add(files: Iterable<File>): void {
		const maxBytes = this.#chat.limits.uploadMaxBytes;
		for (const file of files) {
			if (this.items.length >= MESSAGE_ATTACHMENTS_MAX) {
				this.#chat.notify(`A message can carry at most ${MESSAGE_ATTACHMENTS_MAX} files.`, 'error');
				return;
			}
			const problem = attachmentSizeProblem(file, maxBytes);
			if (problem) {
				this.#chat.notify(problem, 'error');
				continue;
			}
			this.#start(file, maxBytes);
		}
	}

	/** Cancels an upload in progress, or drops a finished or failed one from the draft. */
	remove(key: string): void {
		this.#controllers.get(key)?.abort();
		this.#controllers.delete(key);
		this.items = this.items.filter((item) => item.key !== key);
	}

	/**
	 * Sends the draft with the finished files (text may be empty then). False with a message while
	 * files are still uploading or failed.
	 */
	send(conversation: Conversation): boolean {
		if (this.busy) {
			this.#chat.notify('Wait until the files are uploaded, or remove them.', 'error');
			return false;
		}
		if (this.items.some((item) => item.state === 'failed')) {
			this.#chat.notify('Remove the files that could not be uploaded first.', 'error');
			return false;
		}
		const attachments = this.ready;
		if (attachments.length === 0) return conversation.send();
		const text = conversation.draft.trimEnd();
		const problem = text.trim().length > 0 ? checkMessageText(text, this.#chat.limits.messageMaxBytes) : null;
		if (problem) {
			this.#chat.notify(problem, 'error');
			return false;
		}
		const replyTo = conversation.replyTo;
		const mentions = conversation.mentionsIn(text);
		// The draft handed to the outbox, sealed by the message codec at send time: the engine copies
		// the attachment references into the encrypted content (createMessageContent validates them).
		const draft = encodeDraft(text, { quote: conversation.replyQuote(), attachments, mentions });
		this.#chat.sync.send(this.channelId, draft, replyTo?.id, mentions, conversation.threadRootId);
		this.#chat.typing.sent(this.channelId);
		this.items = [];
		conversation.draft = '';
		conversation.replyTo = null;
		conversation.dividerAfterSeq = null;
		conversation.sentTick += 1;
		return true;
	}

	/** Leaving for good (sign-out): stop every transfer. */
	dispose(): void {
		for (const controller of this.#controllers.values()) controller.abort();
		this.#controllers.clear();
	}

	#start(file: File, maxBytes: number | undefined) {
		this.#counter += 1;
		const key = `${Date.now().toString(36)}-${this.#counter}`;
		const controller = new AbortController();
		this.#controllers.set(key, controller);
		this.items = [...this.items, { key, name: file.name, size: file.size, type: file.type, state: 'encrypting', progress: 0 }];
		const update = (patch: Partial<UploadItem>) => {
			this.items = this.items.map((item) => (item.key === key ? { ...item, ...patch } : item));
		};
		const onProgress = ({ phase, done, total }: TransferProgress) => {
			const fraction = total > 0 ? done / total : 1;
			update({ state: phase, progress: phase === 'encrypting' ? fraction * ENCRYPT_SHARE : ENCRYPT_SHARE + fraction * (1 - ENCRYPT_SHARE) });
		};
		void loadSodium()
			.then((sodium) => encryptAndUpload(sodium, file, { channelId: this.channelId, upload: this.#upload, maxBytes, signal: controller.signal, onProgress }))
			.then(
				(ref) => update({ state: 'ready', progress: 1, ref }),
				(error: unknown) => {
					if (error instanceof UploadCancelledError || controller.signal.aborted) return;
					update({ state: 'failed', error: uploadErrorMessage(error, file.name) });
				}
			)
			.finally(() => this.#controllers.delete(key));
	}
}

// Not reactive on purpose: looking an entry up (inside a $derived) must never write state.
const registry = new WeakMap<ChatState, Map<string, AttachmentUploads>>();

/** The composer's files of one channel (kept while the page lives, like the text draft). */
/** The upload queue of a channel's composer, or (with threadRootId) of one of its threads'. */
export function attachmentUploads(chat: ChatState, channelId: string, threadRootId?: string): AttachmentUploads {
	let channels = registry.get(chat);
	if (!channels) {
		channels = new Map();
		registry.set(chat, channels);
	}
	const key = threadRootId ? `${channelId}:${threadRootId}` : channelId;
	let uploads = channels.get(key);
	if (!uploads) {
		uploads = new AttachmentUploads(chat, channelId);
		channels.set(key, uploads);
	}
	return uploads;
}
