// The compact presence frame (src/lib/shared/protocol/presence-frame.ts): ids grouped by status,
// read back as the same statuses, valid for the shared schema, and much smaller than one object
// per user for a large community's snapshot.
import { describe, expect, it } from 'vitest';
import { parseServerFrame, type PresenceStatus } from '#lib/shared/protocol/frames.ts';
import { presenceEntries, presenceFrame } from '#lib/shared/protocol/presence-frame.ts';

const id = (n: number) => `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;

describe('presence frame', () => {
	it('groups ids by status, naming only the statuses someone has', () => {
		const frame = presenceFrame([
			[id(1), 'online'],
			[id(2), 'dnd'],
			[id(3), 'online'],
			[id(4), 'offline']
		]);
		expect(frame).toEqual({ t: 'presence', online: [id(1), id(3)], dnd: [id(2)], offline: [id(4)] });
		expect(JSON.stringify(frame).startsWith('{"t":"presence",')).toBe(true);
	});

	it('reads back every user with their status', () => {
		const statuses: PresenceStatus[] = ['online', 'idle', 'dnd', 'offline'];
		const entries = Array.from({ length: 12 }, (_, n) => [id(n), statuses[n % 4]!] as const);
		const read = presenceEntries(presenceFrame(entries));
		expect(read.sort((a, b) => a.userId.localeCompare(b.userId))).toEqual(entries.map(([userId, status]) => ({ userId, status })));
	});

	it('passes the shared schema, which refuses an unknown status and a malformed id', () => {
		const text = JSON.stringify(presenceFrame([[id(1), 'idle']]));
		expect(parseServerFrame(text)).toEqual({ ok: true, frame: { t: 'presence', idle: [id(1)] } });
		expect(parseServerFrame(JSON.stringify({ t: 'presence', away: [id(1)] })).ok).toBe(false);
		expect(parseServerFrame(JSON.stringify({ t: 'presence', online: ['not-an-id'] })).ok).toBe(false);
	});

	it('keeps a 5,000-member snapshot near 40 bytes a person (one object per person was 55)', () => {
		const entries = Array.from({ length: 5_000 }, (_, n) => [crypto.randomUUID(), n % 10 === 0 ? 'idle' : 'online'] as const);
		const bytes = Buffer.byteLength(JSON.stringify(presenceFrame(entries)));
		expect(bytes / 5_000).toBeLessThan(40);
	});
});
