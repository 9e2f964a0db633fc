// A person's public profile (avatar, bio, pronouns, custom status) and chosen presence: the rules
// both the settings forms (instant feedback) and the REST API / realtime frames (the authority) use.
//
// Profile fields are public profile data like the display name, not message content: the server
// stores and serves them in the clear to everyone who shares a community or a DM with the person
// (docs/encryption.md).
import * as v from 'valibot';

/** Largest avatar accepted. The browser sends a 256×256 crop (a few dozen KB as WebP); 512 KB leaves room for a PNG. */
export const AVATAR_MAX_BYTES = 512 * 1024;
export const AVATAR_MAX_MESSAGE = 'The picture can be at most 512 KB.';
export const AVATAR_TYPE_MESSAGE = 'The picture must be a PNG, JPEG or WebP image.';
/** Side of the square the browser crops and re-encodes an avatar to: crisp at 2× for the largest (96 px) display. */
export const AVATAR_SIDE_PX = 256;

export const BIO_MAX = 190;
export const PRONOUNS_MAX = 40;
export const STATUS_TEXT_MAX = 100;

function noControl(label: string) {
	return v.check((s: string) => !/[\u0000-\u0009\u000b-\u001f\u007f]/.test(s), `${label} cannot contain control characters.`);
}

export const Bio = v.pipe(v.string('Bio must be text.'), v.trim(), v.maxLength(BIO_MAX, `Bio can have at most ${BIO_MAX} characters.`), noControl('Bio'));
export const Pronouns = v.pipe(
	v.string('Pronouns must be text.'),
	v.trim(),
	v.maxLength(PRONOUNS_MAX, `Pronouns can have at most ${PRONOUNS_MAX} characters.`),
	v.check((s) => !/[\u0000-\u001f\u007f]/.test(s), 'Pronouns cannot contain control characters.')
);
export const StatusText = v.pipe(
	v.string('Status must be text.'),
	v.trim(),
	v.maxLength(STATUS_TEXT_MAX, `A status can have at most ${STATUS_TEXT_MAX} characters.`),
	v.check((s) => !/[\u0000-\u001f\u007f]/.test(s), 'A status cannot contain control characters.')
);
/** One emoji (possibly several code points: skin tones, joiners, flags), no letters or digits. */
export const StatusEmoji = v.pipe(
	v.string('The status emoji must be text.'),
	v.maxLength(32, 'The status emoji is a single emoji.'),
	v.check((s) => s === '' || (/\p{Extended_Pictographic}|\p{Regional_Indicator}/u.test(s) && !/[\p{L}\s]/u.test(s)), 'The status emoji is a single emoji.')
);

/** The presence a person chooses. `auto`: online while active, idle after inactivity. */
export const PRESENCE_CHOICES = ['auto', 'idle', 'dnd', 'invisible'] as const;
export const PresenceChoice = v.picklist(PRESENCE_CHOICES, 'Presence is one of auto, idle, dnd or invisible.');
export type PresenceChoice = v.InferOutput<typeof PresenceChoice>;

/** A custom status as others see it; expiresAt null: until cleared. */
export type CustomStatus = { emoji: string; text: string; expiresAt: string | null };

/** The signed-in person's own profile (GET /api/me/profile). */
export type OwnProfile = {
	avatarUrl: string | null;
	bio: string;
	pronouns: string;
	presence: PresenceChoice;
	status: CustomStatus | null;
};

/** Another person's profile card (GET /api/users/:id/profile). */
export type ProfileView = {
	userId: string;
	avatarUrl: string | null;
	bio: string;
	pronouns: string;
	status: CustomStatus | null;
};

export const ProfilePatch = v.pipe(
	v.strictObject({ bio: v.optional(Bio), pronouns: v.optional(Pronouns) }),
	v.check((p) => p.bio !== undefined || p.pronouns !== undefined, 'Send bio, pronouns or both.')
);

/** Custom status durations offered; the browser turns its choice into an instant (today ends at local midnight). */
export const STATUS_DURATIONS = [
	{ id: '30m', label: '30 minutes', ms: 30 * 60_000 },
	{ id: '1h', label: '1 hour', ms: 3_600_000 },
	{ id: '4h', label: '4 hours', ms: 4 * 3_600_000 },
	{ id: 'today', label: 'Today', ms: null },
	{ id: 'never', label: "Don't clear", ms: null }
] as const;
export type StatusDuration = (typeof STATUS_DURATIONS)[number]['id'];

/** Longest a status may be set for with an expiry (a week covers "today" anywhere and a long weekend). */
export const STATUS_EXPIRY_MAX_MS = 7 * 24 * 3_600_000;

export const StatusInput = v.pipe(
	v.strictObject({
		emoji: v.optional(StatusEmoji, ''),
		text: v.optional(StatusText, ''),
		/** ISO instant; null: until cleared. */
		expiresAt: v.nullable(v.pipe(v.string('expiresAt must be an ISO time or null.'), v.isoTimestamp('expiresAt must be an ISO time or null.')))
	}),
	v.check((s) => s.emoji !== '' || s.text !== '', 'A status needs an emoji or some text.')
);

/** Where an avatar is served; the etag makes a changed picture a new URL, so browsers may keep each for good. */
export function avatarUrl(userId: string, etag: string | null): string | null {
	return etag ? `/api/users/${userId}/avatar?v=${etag}` : null;
}

/** The status to show at `now`, or null when none is set or it has expired. */
export function visibleStatus(row: { statusEmoji: string; statusText: string; statusExpiresAt: Date | null }, now: Date): CustomStatus | null {
	if (row.statusEmoji === '' && row.statusText === '') return null;
	if (row.statusExpiresAt && row.statusExpiresAt.getTime() <= now.getTime()) return null;
	return { emoji: row.statusEmoji, text: row.statusText, expiresAt: row.statusExpiresAt?.toISOString() ?? null };
}

/** The end of the chosen duration, from `now`; "today" ends at the next local midnight. */
export function statusExpiry(duration: StatusDuration, now: Date): Date | null {
	if (duration === 'never') return null;
	if (duration === 'today') {
		const midnight = new Date(now);
		midnight.setHours(24, 0, 0, 0);
		return midnight;
	}
	const ms = STATUS_DURATIONS.find((d) => d.id === duration)!.ms!;
	return new Date(now.getTime() + ms);
}
