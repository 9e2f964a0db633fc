// Input rules shared by the forms (instant feedback) and the REST API (the authority).
import * as v from 'valibot';

export const USERNAME_PATTERN = /^[a-z0-9_.-]{3,32}$/;
export const PASSWORD_MIN_LENGTH = 10;
/** Argon2 cost grows with input length; longer passphrases gain nothing past this. */
export const PASSWORD_MAX_LENGTH = 256;

export const Username = v.pipe(
	v.string(),
	v.trim(),
	v.toLowerCase(),
	v.regex(USERNAME_PATTERN, 'Usernames are 3-32 characters: letters, digits, dot, dash or underscore.')
);

export const Password = v.pipe(
	v.string(),
	v.minLength(PASSWORD_MIN_LENGTH, `Passwords need at least ${PASSWORD_MIN_LENGTH} characters.`),
	v.maxLength(PASSWORD_MAX_LENGTH, `Passwords can have at most ${PASSWORD_MAX_LENGTH} characters.`)
);

/** Visible names: trimmed, no control characters. */
function visibleText(label: string, min: number, max: number) {
	return v.pipe(
		v.string(),
		v.trim(),
		v.minLength(min, `${label} needs at least ${min} character${min === 1 ? '' : 's'}.`),
		v.maxLength(max, `${label} can have at most ${max} characters.`),
		v.check((s) => !/[\u0000-\u001f\u007f]/.test(s), `${label} cannot contain control characters.`)
	);
}

export const DisplayName = visibleText('Display name', 1, 64);
export const CommunityName = visibleText('Community name', 2, 64);
export const InstanceName = visibleText('Server name', 1, 64);
export const Description = v.pipe(
	v.string(),
	v.trim(),
	v.maxLength(500, 'Descriptions can have at most 500 characters.')
);
export const ChannelName = v.pipe(
	v.string(),
	v.trim(),
	v.toLowerCase(),
	v.transform((s) => s.replace(/\s+/g, '-')),
	v.regex(/^[\p{L}\p{N}_-]{1,48}$/u, 'Channel names are 1-48 letters, digits, dashes or underscores.')
);
export const ChannelTopic = v.pipe(
	v.string(),
	v.trim(),
	v.maxLength(250, 'Topics can have at most 250 characters.')
);
/** Slow mode: up to 6 hours between two messages of a member. */
export const SLOW_MODE_MAX_SECONDS = 6 * 3600;
export const SlowModeSeconds = v.pipe(
	v.number('Slow mode is a number of seconds.'),
	v.integer('Slow mode is a whole number of seconds.'),
	v.minValue(0, 'Slow mode cannot be negative.'),
	v.maxValue(SLOW_MODE_MAX_SECONDS, `Slow mode can be at most ${SLOW_MODE_MAX_SECONDS} seconds (6 hours).`)
);
/** A moderator's reason (kick, ban, timeout, report): optional, short, shown in the audit log. */
export const Reason = v.pipe(
	v.string(),
	v.trim(),
	v.maxLength(500, 'Reasons can have at most 500 characters.'),
	v.check((s) => !/[\u0000-\u0008\u000b-\u001f\u007f]/.test(s), 'Reasons cannot contain control characters.')
);
export const RoleName = visibleText('Role name', 1, 32);
export const Uuid = v.pipe(v.string(), v.uuid('That is not a valid id.'));

export const InviteCode = v.pipe(v.string(), v.trim(), v.regex(/^[A-Za-z0-9]{6,32}$/, 'That invite code is not valid.'));
export const RegistrationMode = v.picklist(['open', 'invite_only', 'closed']);
export type RegistrationMode = v.InferOutput<typeof RegistrationMode>;

/**
 * How strictly the server rate-limits, an instance setting: a multiplier of the limits configured
 * in the environment (HTTP_RATE_PER_MINUTE, HTTP_AUTH_RATE_PER_MINUTE, WS_RATE_PER_SECOND and
 * WS_RATE_BURST). Doubling and halving are steps an admin can reason about under a flood or a
 * crowded event, without a restart; finer tuning is what the environment variables are for.
 */
export const RATE_LIMIT_FACTORS = { relaxed: 2, normal: 1, strict: 0.5 } as const;
export const RateLimitLevel = v.picklist(['relaxed', 'normal', 'strict']);
export type RateLimitLevel = v.InferOutput<typeof RateLimitLevel>;

/**
 * ICE server URLs an admin may set for calls (instance settings stunUrls and turnUrls), as
 * browsers' RTCPeerConnection takes them: stun:/stuns: host[:port] (RFC 7064) and turn:/turns:
 * host[:port] with an optional ?transport=udp|tcp (RFC 7065). The host is a DNS name, an IPv4
 * address or a bracketed IPv6 address. No credentials in the URL: TURN's come from TURN_SECRET.
 */
export const ICE_URLS_MAX = 8;
const ICE_HOST = String.raw`(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*)`;
const ICE_PORT = String.raw`(?::(?:6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3}))?`;
const STUN_URL = new RegExp(`^stuns?:${ICE_HOST}${ICE_PORT}$`);
const TURN_URL = new RegExp(`^turns?:${ICE_HOST}${ICE_PORT}(?:\\?transport=(?:udp|tcp))?$`);

function iceUrlList(kind: 'STUN' | 'TURN', pattern: RegExp, example: string) {
	return v.pipe(
		v.array(v.pipe(v.string(`Each ${kind} server is a URL.`), v.trim()), `The ${kind} servers are a list of URLs.`),
		v.transform((urls) => urls.filter((url) => url !== '')),
		v.maxLength(ICE_URLS_MAX, `At most ${ICE_URLS_MAX} ${kind} servers.`),
		v.check((urls) => urls.every((url) => pattern.test(url)), `Each ${kind} server must look like ${example}.`),
		v.check((urls) => new Set(urls).size === urls.length, `A ${kind} server is listed twice.`)
	);
}
export const StunUrls = iceUrlList('STUN', STUN_URL, 'stun:host:3478 or stuns:host:5349');
export const TurnUrls = iceUrlList('TURN', TURN_URL, 'turn:host:3478?transport=udp or turns:host:5349?transport=tcp');

/**
 * An issue's message without the value that failed: valibot appends it ("... but received "x"",
 * "Invalid UUID: Received "x""), and echoing input back can leak it (a message body sent in the
 * wrong field) into error frames, error bodies and whatever logs them.
 */
export function issueMessage(issue: v.BaseIssue<unknown>): string {
	return issue.message.replace(/(,?\s*but received|:\s*received)[\s\S]*$/i, '').trim();
}

/**
 * JSON.parse that also reports whether any string (value or key) holds a NUL character. PostgreSQL
 * text cannot store U+0000, so such input must be refused up front, not fail in the database.
 */
export function parseJsonText(text: string): { ok: true; value: unknown; hasNul: boolean } | { ok: false } {
	let hasNul = false;
	try {
		const value: unknown = JSON.parse(text, (key, item: unknown) => {
			if (key.includes('\u0000') || (typeof item === 'string' && item.includes('\u0000'))) hasNul = true;
			return item;
		});
		return { ok: true, value, hasNul };
	} catch {
		return { ok: false };
	}
}

/** First human-readable problem of a failed parse, for a form or an error body. */
export function firstIssue(issues: readonly v.BaseIssue<unknown>[]): string {
	const issue = issues[0];
	if (!issue) return 'Invalid input.';
	const field = issue.path?.map((p) => String(p.key)).join('.');
	const message = issueMessage(issue);
	return field && !/[.!]$/.test(message) ? `${field}: ${message}` : message;
}

/** Invites last at most a year; unlimited-time invites are also possible (no expiry). */
export const INVITE_MAX_HOURS = 24 * 365;

export const InviteOptions = v.strictObject({
	maxUses: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100_000))), null),
	expiresInHours: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(INVITE_MAX_HOURS))), null)
});
