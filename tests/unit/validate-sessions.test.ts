// Upgrades that arrive together share one session lookup (Accounts.validateSessions, used through a
// DataLoader by the /ws upgrade). The batch must answer each token exactly as validating it alone
// would: in order, null for anything that is not a live session, and end expired sessions.
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '#lib/server/db/open.ts';
import { sessions, users } from '#lib/server/db/schema.ts';
import { LocalEventBus } from '#lib/server/events/bus.ts';
import { Accounts } from '#lib/server/services/accounts.ts';
import { generateToken, sessionIdFromToken } from '#lib/server/auth/tokens.ts';

const migrations = new URL('../../drizzle', import.meta.url).pathname;
const DAY = 24 * 60 * 60_000;

describe('validating many sessions at once', () => {
	let handle: DatabaseHandle;
	let accounts: Accounts;
	let statements = 0;
	beforeAll(async () => {
		handle = await openDatabase({ kind: 'pglite', dataDir: 'memory://' }, migrations, { onQuery: () => (statements += 1) });
		const unused = () => {
			throw new Error('not used by session validation');
		};
		accounts = new Accounts({
			db: handle.db,
			bus: new LocalEventBus(() => {}),
			sessionTtlMs: 30 * DAY,
			signUpsPerIpPerHour: 10,
			invites: unused,
			communities: unused,
			twoFactor: unused,
			passkeys: unused
		});
	}, 60_000);
	afterAll(async () => handle?.close());

	async function session(options: { expiresInMs?: number; disabled?: boolean; lastSeenAgoMs?: number } = {}) {
		const userId = crypto.randomUUID();
		await handle.db.insert(users).values({
			id: userId,
			username: `u${userId.slice(0, 8)}`,
			displayName: 'U',
			passwordHash: 'x',
			...(options.disabled ? { disabledAt: new Date() } : {})
		});
		const token = generateToken();
		await handle.db.insert(sessions).values({
			id: sessionIdFromToken(token),
			userId,
			expiresAt: new Date(Date.now() + (options.expiresInMs ?? 10 * DAY)),
			lastSeenAt: new Date(Date.now() - (options.lastSeenAgoMs ?? 0))
		});
		return { token, userId };
	}

	it('answers each token in order, as validating it alone would, in a fixed number of statements', async () => {
		const live = await Promise.all([session(), session(), session({ lastSeenAgoMs: DAY })]);
		const expired = await session({ expiresInMs: -1000 });
		const disabled = await session({ disabled: true });
		const tokens = [live[0]!.token, 'not-a-token', expired.token, live[1]!.token, generateToken(), disabled.token, live[2]!.token, live[0]!.token];

		statements = 0;
		const results = await accounts.validateSessions(tokens, { renew: false });
		// One lookup, one transaction ending the two dead sessions, one lastSeenAt update.
		expect(statements).toBeLessThanOrEqual(8);
		expect(results.map((r) => r?.user.id ?? null)).toEqual([live[0]!.userId, null, null, live[1]!.userId, null, null, live[2]!.userId, live[0]!.userId]);
		for (const token of tokens) {
			const alone = await accounts.validateSession(token, { renew: false });
			const batched = results[tokens.indexOf(token)];
			expect(alone?.user.id ?? null).toBe(batched?.user.id ?? null);
		}
		// The dead ones are gone; the stale lastSeenAt was written.
		const left = await handle.db.select({ id: sessions.id }).from(sessions).where(eq(sessions.userId, expired.userId));
		expect(left).toEqual([]);
		const [touched] = await handle.db.select({ lastSeenAt: sessions.lastSeenAt }).from(sessions).where(eq(sessions.userId, live[2]!.userId));
		expect(Date.now() - touched!.lastSeenAt.getTime()).toBeLessThan(60_000);
	});

	it('costs the same statements for 200 tokens as for 2', async () => {
		const many = await Promise.all(Array.from({ length: 200 }, () => session()));
		statements = 0;
		const results = await accounts.validateSessions(many.map((s) => s.token), { renew: false });
		expect(results.map((r) => r?.user.id)).toEqual(many.map((s) => s.userId));
		expect(statements).toBe(1);
	});
});
