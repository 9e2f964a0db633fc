// Turns a channel's messages (and this user's unsent ones) into what the message list draws: day
// separators, the "new messages" divider, and consecutive messages by one author grouped under a
// single name and avatar. Pure, so the grouping rules are tested without a browser.
import type { MemberNotice } from '#lib/shared/api-types.ts';
import type { MessageView } from '#lib/shared/protocol/frames.ts';
import type { OutboxItem } from '../realtime/outbox.ts';
import { dayKey, dayLabel } from '../format.ts';

// Messages further apart than this start a new group even from the same author (Discord uses 7 min).
export const GROUP_WINDOW_MS = 7 * 60_000;

export type TimelineRow =
	| { kind: 'day'; key: string; label: string }
	| { kind: 'divider'; key: string }
	| { kind: 'message'; key: string; message: MessageView; grouped: boolean }
	| { kind: 'notice'; key: string; notice: MemberNotice }
	| { kind: 'pending'; key: string; item: OutboxItem; grouped: boolean };

export type RowOptions = {
	meId: string;
	/** Messages after this sequence number are new to the reader (null: no divider). */
	dividerAfterSeq: number | null;
	/** Join and leave notices, placed between messages by sequence number. */
	notices?: readonly MemberNotice[];
	now?: Date;
};

export function timelineRows(messages: readonly MessageView[], pending: readonly OutboxItem[], options: RowOptions): TimelineRow[] {
	const rows: TimelineRow[] = [];
	const now = options.now ?? new Date();
	let lastDay: string | null = null;
	let last: { authorId: string; at: number } | null = null;
	let dividerPlaced = false;

	const startDay = (iso: string) => {
		const key = dayKey(iso);
		if (key === lastDay) return;
		lastDay = key;
		rows.push({ kind: 'day', key: `day:${key}`, label: dayLabel(iso, now) });
		last = null;
	};
	const groups = (authorId: string, at: number, isReply: boolean) =>
		!isReply && last !== null && last.authorId === authorId && at - last.at < GROUP_WINDOW_MS && at >= last.at;

	const notices = options.notices ?? [];
	let nextNotice = 0;
	const noticesBefore = (seq: number) => {
		while (nextNotice < notices.length && notices[nextNotice]!.seq < seq) {
			const notice = notices[nextNotice++]!;
			startDay(notice.at);
			rows.push({ kind: 'notice', key: `notice:${notice.seq}`, notice });
			// A notice interrupts a conversation: the next message shows its author again.
			last = null;
		}
	};

	for (const message of messages) {
		noticesBefore(message.seq);
		// Deleted messages leave no trace in the list (replies to them say so in their quote).
		if (message.deletedAt) continue;
		startDay(message.createdAt);
		if (
			!dividerPlaced &&
			options.dividerAfterSeq !== null &&
			message.seq > options.dividerAfterSeq &&
			message.authorId !== options.meId
		) {
			rows.push({ kind: 'divider', key: 'divider' });
			dividerPlaced = true;
			last = null;
		}
		const at = new Date(message.createdAt).getTime();
		rows.push({ kind: 'message', key: message.id, message, grouped: groups(message.authorId, at, message.replyToId !== null) });
		last = { authorId: message.authorId, at };
	}

	noticesBefore(Infinity);

	for (const item of pending) {
		startDay(item.createdAt);
		const at = new Date(item.createdAt).getTime();
		rows.push({ kind: 'pending', key: `pending:${item.clientId}`, item, grouped: groups(options.meId, at, Boolean(item.replyToId)) });
		last = { authorId: options.meId, at };
	}
	return rows;
}
