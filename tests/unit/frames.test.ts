import { describe, expect, it } from 'vitest';
import { parseClientFrame, parseServerFrame } from '#lib/shared/protocol/frames.ts';

const channelId = '0b9f1a52-2c39-4f4e-9a47-6c2c8f8a1b11';

describe('parseClientFrame', () => {
	it('accepts a well-formed send', () => {
		const result = parseClientFrame(JSON.stringify({ t: 'message.send', id: 'r1', channelId, clientId: 'abcdefgh', payload: 'x' }));
		expect(result).toEqual({ ok: true, frame: { t: 'message.send', id: 'r1', channelId, clientId: 'abcdefgh', payload: 'x' } });
	});

	it('rejects text that is not a JSON object', () => {
		expect(parseClientFrame('not json')).toEqual({ ok: false, error: 'frame must be a JSON object' });
		expect(parseClientFrame('[1,2]')).toEqual({ ok: false, error: 'frame must be a JSON object' });
		expect(parseClientFrame('null')).toEqual({ ok: false, error: 'frame must be a JSON object' });
	});

	it('rejects unknown frame types, including inherited property names', () => {
		expect(parseClientFrame(JSON.stringify({ t: 'drop.tables' }))).toEqual({ ok: false, error: 'unknown frame type' });
		expect(parseClientFrame(JSON.stringify({ t: 'constructor' }))).toEqual({ ok: false, error: 'unknown frame type' });
		expect(parseClientFrame(JSON.stringify({ t: '__proto__' }))).toEqual({ ok: false, error: 'unknown frame type' });
	});

	it('rejects unknown keys', () => {
		const result = parseClientFrame(JSON.stringify({ t: 'typing', channelId, admin: true }));
		expect(result.ok).toBe(false);
	});

	it('rejects wrong types and malformed ids without echoing the values', () => {
		const secret = 'SECRET-CANARY-' + Math.random();
		const result = parseClientFrame(JSON.stringify({ t: 'message.send', id: 'r1', channelId: secret, clientId: 'abcdefgh', payload: 'x' }));
		expect(result.ok).toBe(false);
		if (!result.ok) {
			expect(result.error).toContain('channelId');
			expect(result.error).not.toContain(secret);
		}
		const typed = parseClientFrame(JSON.stringify({ t: 'message.send', id: 'r1', channelId, clientId: 'abcdefgh', payload: 12345 }));
		expect(typed.ok).toBe(false);
		if (!typed.ok) expect(typed.error).not.toContain('12345');
	});

	it('limits the number of resume cursors', () => {
		const cursors = Array.from({ length: 1001 }, () => ({ channelId, seq: 0 }));
		expect(parseClientFrame(JSON.stringify({ t: 'resume', id: 'r', cursors })).ok).toBe(false);
		expect(parseClientFrame(JSON.stringify({ t: 'resume', id: 'r', cursors: cursors.slice(0, 1000) })).ok).toBe(true);
	});

	it('rejects negative and fractional sequence numbers', () => {
		expect(parseClientFrame(JSON.stringify({ t: 'read', channelId, seq: -1 })).ok).toBe(false);
		expect(parseClientFrame(JSON.stringify({ t: 'read', channelId, seq: 1.5 })).ok).toBe(false);
	});
});

describe('parseServerFrame', () => {
	it('accepts a pong and rejects unknown server frames', () => {
		expect(parseServerFrame(JSON.stringify({ t: 'pong', id: 'p1' }))).toEqual({ ok: true, frame: { t: 'pong', id: 'p1' } });
		expect(parseServerFrame(JSON.stringify({ t: 'nope' })).ok).toBe(false);
	});
});
