import { describe, expect, it } from 'vitest';
import type { MessageView } from '#lib/shared/protocol/frames.ts';
import { timelineRows } from '#lib/client/chat/timeline-rows.ts';

const ME = '00000000-0000-4000-8000-000000000001';
const ANA = '00000000-0000-4000-8000-000000000002';

function message(seq: number, authorId: string, at: string, extra: Partial<MessageView> = {}): MessageView {
	return {
		id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
		channelId: '00000000-0000-4000-8000-00000000ffff',
		seq,
		authorId,
		clientId: `client${seq}xx`,
		payload: '{"v":1,"text":"hi"}',
		replyToId: null,
		createdAt: at,
		editedAt: null,
		deletedAt: null,
		reactions: [],
		...extra
	};
}

const kinds = (rows: ReturnType<typeof timelineRows>) => rows.map((r) => (r.kind === 'message' ? `${r.kind}${r.grouped ? '+' : ''}` : r.kind));

describe('timelineRows', () => {
	const now = new Date('2026-03-10T12:00:00');

	it('groups consecutive messages by one author close together, under one day separator', () => {
		const rows = timelineRows(
			[message(1, ANA, '2026-03-10T10:00:00'), message(2, ANA, '2026-03-10T10:01:00'), message(3, ME, '2026-03-10T10:02:00')],
			[],
			{ meId: ME, dividerAfterSeq: null, now }
		);
		expect(kinds(rows)).toEqual(['day', 'message', 'message+', 'message']);
		expect(rows[0]).toMatchObject({ label: 'Today' });
	});

	it('places join and leave notices by sequence number, and a notice breaks the author group', () => {
		const user = { id: ANA, username: 'ana', displayName: 'Ana' };
		const rows = timelineRows(
			[message(2, ANA, '2026-03-10T10:00:00'), message(4, ANA, '2026-03-10T10:01:00'), message(5, ANA, '2026-03-10T10:02:00')],
			[],
			{
				meId: ME,
				dividerAfterSeq: null,
				now,
				notices: [
					{ seq: 1, type: 'member.joined', user, at: '2026-03-10T09:59:00' },
					{ seq: 3, type: 'member.left', user: { ...user, id: ME }, at: '2026-03-10T10:00:30' },
					{ seq: 6, type: 'member.joined', user: { ...user, id: ME }, at: '2026-03-10T10:03:00' }
				]
			}
		);
		expect(kinds(rows)).toEqual(['day', 'notice', 'message', 'notice', 'message', 'message+', 'notice']);
		expect(rows.filter((r) => r.kind === 'notice').map((r) => r.key)).toEqual(['notice:1', 'notice:3', 'notice:6']);
	});

	it('starts a new group after a pause, a new day, a reply, or the new-messages divider', () => {
		const rows = timelineRows(
			[
				message(1, ANA, '2026-03-09T23:58:00'),
				message(2, ANA, '2026-03-10T00:01:00'),
				message(3, ANA, '2026-03-10T00:30:00'),
				message(4, ANA, '2026-03-10T00:31:00', { replyToId: '00000000-0000-4000-8000-000000000001' }),
				message(5, ANA, '2026-03-10T00:32:00')
			],
			[],
			{ meId: ME, dividerAfterSeq: 4, now }
		);
		expect(kinds(rows)).toEqual(['day', 'message', 'day', 'message', 'message', 'message', 'divider', 'message']);
		expect(rows[0]).toMatchObject({ label: 'Yesterday' });
	});

	it('puts the divider before the first unread message from someone else, not before my own', () => {
		const rows = timelineRows([message(1, ANA, '2026-03-10T10:00:00'), message(2, ME, '2026-03-10T10:01:00'), message(3, ANA, '2026-03-10T10:02:00')], [], {
			meId: ME,
			dividerAfterSeq: 1,
			now
		});
		expect(kinds(rows)).toEqual(['day', 'message', 'message', 'divider', 'message']);
	});

	it('leaves deleted messages out and shows unsent ones last, grouped with my messages', () => {
		const rows = timelineRows(
			[message(1, ME, '2026-03-10T10:00:00'), message(2, ANA, '2026-03-10T10:01:00', { deletedAt: '2026-03-10T10:05:00', payload: '' })],
			[{ clientId: 'pending-1', channelId: 'c', payload: '{"v":1,"text":"x"}', createdAt: '2026-03-10T10:02:00' }],
			{ meId: ME, dividerAfterSeq: null, now }
		);
		expect(rows.map((r) => r.kind)).toEqual(['day', 'message', 'pending']);
		expect(rows[2]).toMatchObject({ grouped: true });
	});
});
