// Mentions: who a message names with @username, @everyone or @here.
//
// A message carries them twice (docs/encryption.md, "Mentions"):
// - beside its ciphertext, as a small routing field the server reads to count and notify, and to
//   refuse @everyone/@here from someone without the `mention_everyone` permission;
// - inside the encrypted content, where the server cannot change them.
// A reader counts a mention of themselves only when both say so (`mentionsUser`), so a server that
// lies in the routing field cannot invent a mention, and one that strips it can only silence it.
import * as v from 'valibot';

/** At most this many people named in one message (more is a broadcast: use @everyone). */
export const MENTIONS_MAX_USERS = 50;

const Uuid = v.pipe(v.string(), v.uuid());

export const Mentions = v.strictObject({
	users: v.optional(v.pipe(v.array(Uuid), v.minLength(1), v.maxLength(MENTIONS_MAX_USERS))),
	everyone: v.optional(v.literal(true)),
	here: v.optional(v.literal(true))
});
export type Mentions = v.InferOutput<typeof Mentions>;

export function hasMentions(mentions: Mentions | null | undefined): mentions is Mentions {
	return !!mentions && (!!mentions.everyone || !!mentions.here || (mentions.users?.length ?? 0) > 0);
}

/** The same mentions in one canonical form (sorted, deduplicated, empty parts left out), or null. */
export function normalizeMentions(mentions: Mentions | null | undefined): Mentions | null {
	if (!hasMentions(mentions)) return null;
	const users = [...new Set((mentions.users ?? []).map((id) => id.toLowerCase()))].sort();
	return {
		...(users.length ? { users } : {}),
		...(mentions.everyone ? { everyone: true as const } : {}),
		...(mentions.here ? { here: true as const } : {})
	};
}

/** Whether the mentions name this user, directly or through @everyone / @here. */
export function namesUser(mentions: Mentions | null | undefined, userId: string): boolean {
	if (!mentions) return false;
	return !!mentions.everyone || !!mentions.here || (mentions.users ?? []).includes(userId.toLowerCase());
}

/**
 * Whether a message mentions `userId` as its reader should believe: the server's routing field and
 * the encrypted content must both name them. A mismatch is ignored (no highlight, no notification).
 */
export function mentionsUser(routing: Mentions | null | undefined, encrypted: Mentions | null | undefined, userId: string): boolean {
	return namesUser(routing, userId) && namesUser(encrypted, userId);
}

/** Someone a composer can mention. */
export type Mentionable = { id: string; username: string };

// `@name` at the start or after a space or an opening bracket or quote; usernames are lowercase
// letters, digits, dots, dashes and underscores (validation.ts), matched case-insensitively.
const MENTION = /(^|[\s([{"'>])@([A-Za-z0-9._-]{1,64})/g;
// Code is quoted text, not an address: `@name` inside backticks mentions nobody.
const CODE = /```[\s\S]*?(```|$)|`[^`\n]*`/g;

/**
 * The mentions in a text: `@username` of someone in `people`, and `@everyone` / `@here` when
 * `canMentionEveryone`. Unknown names are plain text. Returns null when nobody is mentioned.
 */
export function mentionsInText(text: string, people: readonly Mentionable[], canMentionEveryone: boolean): Mentions | null {
	const byName = new Map(people.map((p) => [p.username.toLowerCase(), p.id.toLowerCase()]));
	const users = new Set<string>();
	let everyone = false;
	let here = false;
	for (const match of text.replace(CODE, ' ').matchAll(MENTION)) {
		// A trailing dot or dash ends a sentence more often than it ends a name.
		const name = match[2]!.toLowerCase().replace(/[.-]+$/, '');
		if (name === 'everyone' && canMentionEveryone) everyone = true;
		else if (name === 'here' && canMentionEveryone) here = true;
		else {
			const id = byName.get(name);
			if (id && users.size < MENTIONS_MAX_USERS) users.add(id);
		}
	}
	return normalizeMentions({ ...(users.size ? { users: [...users] } : {}), ...(everyone ? { everyone: true } : {}), ...(here ? { here: true } : {}) });
}
