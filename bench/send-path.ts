// CPU of message.send through the real services, in one process, without sockets: what the
// database path of a send costs, for working on it without the whole bench (seconds, not minutes).
//
//   node bench/send-path.ts [--sends 3000] [--engine pglite|postgres] [--pg-url URL]
//
// Sends one at a time (each awaited: one send per transaction, as at low rates) and then eight at a
// time (group commit batches them), into one channel of a 50-member community, and prints the
// main thread's CPU per send (process.threadCpuUsage: PGlite runs on that thread; PostgreSQL's own
// CPU is not counted). A fresh PGlite folder under the OS temp dir (removed after), or a
// `hearth_send_path` database created and dropped on the PostgreSQL server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { loadConfig } from '#lib/server/config/config.ts';
import { createLogger } from '#lib/server/logger.ts';
import { createAppContext } from '#lib/server/context.ts';
import { channels, communities, communityMembers, users } from '#lib/server/db/schema.ts';

const { values } = parseArgs({
	options: {
		sends: { type: 'string', default: '3000' },
		engine: { type: 'string', default: 'pglite' },
		'pg-url': { type: 'string', default: 'postgres://hearth_test:hearth_test@127.0.0.1:5432/postgres' }
	}
});
const sends = Number(values.sends);
if (!Number.isInteger(sends) || sends < 8) throw new Error('--sends must be an integer of at least 8');
if (values.engine !== 'pglite' && values.engine !== 'postgres') throw new Error('--engine is pglite or postgres');

const DATABASE = 'hearth_send_path';
let env: Record<string, string>;
let cleanUp: () => Promise<void>;
if (values.engine === 'postgres') {
	const admin = postgres(values['pg-url'], { max: 1, onnotice: () => {} });
	await admin.unsafe(`drop database if exists ${DATABASE} with (force)`);
	await admin.unsafe(`create database ${DATABASE}`);
	const url = new URL(values['pg-url']);
	url.pathname = `/${DATABASE}`;
	env = { DATABASE_URL: url.toString() };
	cleanUp = async () => {
		await admin.unsafe(`drop database if exists ${DATABASE} with (force)`);
		await admin.end();
	};
} else {
	const dir = mkdtempSync(join(tmpdir(), 'hearth-send-path-'));
	env = { DATA_DIR: dir };
	cleanUp = async () => rmSync(dir, { recursive: true, force: true });
}

const config = loadConfig({ PATH: process.env.PATH ?? '', APP_ENV: 'development', LOG_LEVEL: 'warn', ...env });
const log = createLogger('warn');
const app = await createAppContext({ config, log, version: 'bench', migrationsFolder: fileURLToPath(new URL('../drizzle', import.meta.url)) });
const db = app.database.db;

const userIds = Array.from({ length: 50 }, () => crypto.randomUUID());
const communityId = crypto.randomUUID();
const channelId = crypto.randomUUID();
await db.insert(users).values(userIds.map((id, index) => ({ id, username: `sender${index}`, displayName: `Sender ${index}`, passwordHash: 'not used' })));
await db.insert(communities).values({ id: communityId, name: 'bench', ownerId: userIds[0]!, systemChannelId: channelId });
await db.insert(channels).values({ id: channelId, communityId, kind: 'text', name: 'general' });
await db.insert(communityMembers).values(userIds.map((userId, index) => ({ communityId, userId, role: index === 0 ? ('owner' as const) : ('member' as const) })));

const payload = 'x'.repeat(256);
let counter = 0;
const send = () => {
	counter += 1;
	return app.services.messages.send({ userId: userIds[counter % userIds.length]!, channelId, clientId: `send-path-${counter}`, payload });
};
const cpuMs = (since: NodeJS.CpuUsage) => {
	const used = process.threadCpuUsage(since);
	return (used.user + used.system) / 1000;
};

// Warm-up: JIT, prepared statements, plan caches.
for (let i = 0; i < 500; i += 1) await send();

let start = process.threadCpuUsage();
for (let i = 0; i < sends; i += 1) await send();
const alone = cpuMs(start) / sends;

start = process.threadCpuUsage();
for (let i = 0; i < sends; i += 8) await Promise.all(Array.from({ length: 8 }, send));
const batched = cpuMs(start) / (Math.floor(sends / 8) * 8);

console.log(`message.send on ${values.engine}, main-thread CPU per send: ${alone.toFixed(3)} ms alone, ${batched.toFixed(3)} ms eight at a time`);
await app.writer.drain();
await app.database.close();
await cleanUp();
