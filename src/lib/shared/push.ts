// Web Push between the server and the service worker: what a browser registers, and what a push
// carries. A push never carries message plaintext: it carries the message's own ciphertext (the
// same payload the server stores), padded so every push has one size, or only ids when that does
// not fit (then the service worker fetches the message). The service worker decrypts it with the
// device's keys and shows the sender and text.
import * as v from 'valibot';

const B64URL = /^[A-Za-z0-9_-]+$/;

/** What `PushSubscription.toJSON()` gives, as the browser registers it (PUT /api/me/push-subscription). */
export const PushSubscriptionInput = v.strictObject({
	endpoint: v.pipe(v.string(), v.url('endpoint must be a URL.'), v.maxLength(2048)),
	expirationTime: v.optional(v.nullable(v.number())),
	keys: v.strictObject({
		/** Uncompressed P-256 public key: 65 bytes. */
		p256dh: v.pipe(v.string(), v.length(87, 'keys.p256dh must be a 65-byte P-256 key (base64url).'), v.regex(B64URL)),
		/** Authentication secret: 16 bytes. */
		auth: v.pipe(v.string(), v.length(22, 'keys.auth must be 16 bytes (base64url).'), v.regex(B64URL))
	})
});
export type PushSubscriptionInput = v.InferOutput<typeof PushSubscriptionInput>;

export const NOTIFICATION_LEVELS = ['all', 'mentions', 'none'] as const;
export type NotificationLevel = (typeof NOTIFICATION_LEVELS)[number];

/** Every push is padded to this many bytes of JSON (the Web Push limit is about 4 kB). */
export const PUSH_PAYLOAD_BYTES = 3600;

export type PushPayload = {
	v: 1;
	/** The account the push is for (the service worker opens that account's key store). */
	userId: string;
	channelId: string;
	communityId: string | null;
	/** '#general' or the other person's name: shown when the text cannot be decrypted. */
	place: string;
	authorId: string;
	authorName: string;
	messageId: string;
	seq: number;
	createdAt: string;
	/** The message's ciphertext as stored; absent when it did not fit (fetch the message). */
	payload?: string;
	/** The routing field (the service worker checks it against the encrypted copy). */
	mentions?: unknown;
	pad: string;
};

/** Which level applies to a channel: the channel's own, else its community's, else the default (DMs and mentions). */
export function effectiveLevel(levels: ReadonlyMap<string, NotificationLevel>, channelId: string, communityId: string | null): NotificationLevel {
	return levels.get(channelId) ?? (communityId ? levels.get(communityId) : undefined) ?? 'mentions';
}

export type NotificationSettingsView = {
	/** The VAPID public key browsers subscribe with (applicationServerKey). */
	publicKey: string;
	/** Whether this browser (device) has a push subscription. */
	subscribed: boolean;
	quietUntil: string | null;
	levels: Array<{ targetId: string; level: NotificationLevel }>;
};
