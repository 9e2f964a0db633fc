// PGlite's PostgreSQL settings are this process's memory (src/lib/server/db/open.ts): the buffer
// pool is set small on purpose, statements keep their plans, and PGlite's own start parameters must
// still all apply (nothing about durability changes).
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGlite } from '@electric-sql/pglite';
import { openDatabase, type DatabaseHandle } from '#lib/server/db/open.ts';

const migrations = new URL('../../drizzle', import.meta.url).pathname;

describe('PGlite settings', () => {
	let handle: DatabaseHandle;
	beforeAll(async () => {
		handle = await openDatabase({ kind: 'pglite', dataDir: 'memory://' }, migrations);
	}, 60_000);
	afterAll(async () => handle?.close());

	const setting = async (name: string) => {
		const result = await handle.db.execute(sql`select setting, unit from pg_settings where name = ${name}`);
		return (result as unknown as { rows: Array<{ setting: string; unit: string | null }> }).rows[0];
	};

	it('runs with a 16 MB buffer pool instead of PostgreSQL\'s 128 MB default', async () => {
		expect(await setting('shared_buffers')).toEqual({ setting: String((16 * 1024) / 8), unit: '8kB' });
	});

	it('plans its statements once (generic plans) and does not zero-fill new WAL files', async () => {
		expect((await setting('plan_cache_mode'))?.setting).toBe('force_generic_plan');
		expect((await setting('wal_init_zero'))?.setting).toBe('off');
	});

	it('keeps every start parameter PGlite itself passes', async () => {
		const defaults = PGlite.defaultStartParams;
		// `-c name=value` pairs; the flags (--single, -F, -O, -j) are checked by PGlite starting at all
		// and by fsync below.
		const pairs = defaults.flatMap((value, index) => (defaults[index - 1] === '-c' ? [value.split('=') as [string, string]] : []));
		expect(pairs.length).toBeGreaterThan(5);
		// pg_settings spells booleans on/off.
		const spelled = (value: string) => ({ true: 'on', false: 'off' })[value] ?? value;
		for (const [name, value] of pairs) expect({ name, value: (await setting(name))?.setting }).toEqual({ name, value: spelled(value) });
		// -F (no fsync) is PGlite's default and stays as it was: durability is not this file's business.
		expect((await setting('fsync'))?.setting).toBe(defaults.includes('-F') ? 'off' : 'on');
	});
});
