// Limits both sides need to agree on. Server-side limits that operators tune live in src/env.ts.

/** Most messages one history page returns. */
export const HISTORY_PAGE_MAX = 100;
/** A client further behind than this many events in one channel is told to refetch it. */
export const RESUME_MAX_EVENTS = 1000;
/** How long a "typing" indicator lasts without a fresh typing frame. */
export const TYPING_TTL_MS = 6000;
/** Minimum interval between typing frames a client sends for one channel. */
export const TYPING_THROTTLE_MS = 3000;
/** Without activity for this long, a client reports itself idle. */
export const IDLE_AFTER_MS = 5 * 60_000;

/** Pinned messages per channel (Discord's limit too): a pinned list is a short list to scan, not an archive. */
export const PINS_PER_CHANNEL_MAX = 50;

/** Earlier versions of one message returned by its edit history (the newest ones): enough for any honest edit streak. */
export const MESSAGE_REVISIONS_MAX = 100;

/** Replies one thread page returns (the newest ones; `before` pages back). */
export const THREAD_PAGE_MAX = 200;
/** Followed threads one channel's Threads list shows (most recently active first). */
export const THREAD_LIST_MAX = 50;
