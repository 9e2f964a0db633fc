// Seeds a fresh Hearth database for the bench: one user and one session per connection, one
// community per group with its members and one text channel (a voice channel for bench/calls.ts).
//
// This writes rows through the product's drizzle schema and migrations, and deliberately NOT
// through the API: sign-up hashes a password with Argon2id (~60 ms of CPU each, by design), so
// creating 5,000 accounts through it would take minutes of both cores and measure nothing the bench
// is about. The rows are the ones the services would write: sessions store only the SHA-256 of
// their token (src/lib/server/auth/tokens.ts), and each community's channel is its system channel,
// as Communities.create makes it. Password hashes are a placeholder: nobody signs in with them.
//
// Runs as its own process (PGlite allows one process per data folder, and the orchestrator should
// not keep a WASM database in memory): `node bench/seed.ts --out FILE (--data-dir DIR |
// --database-url URL) --connections N --group-size N [--channel-kind voice]`. It writes the groups and tokens to FILE.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openDatabase, type DatabaseConfig } from '#lib/server/db/open.ts';
import { channels, communities, communityMembers, sessions, users } from '#lib/server/db/schema.ts';
import { generateToken, sessionIdFromToken } from '#lib/server/auth/tokens.ts';
import { groupSizes } from './options.ts';

export type SeededGroup = { communityId: string; channelId: string; tokens: string[] };

// Sessions outlive the run and are far from their renewal point (half the TTL), so validating one
// at connect time is a single read, as it is for a user who signed in recently.
const SESSION_LIFETIME_MS = 30 * 24 * 60 * 60 * 1000;
// Rows per INSERT: well under PostgreSQL's 65,535 bind parameters for the widest table (7 columns).
const CHUNK = 1000;
const PLACEHOLDER_HASH = '!bench-seeded-account-without-password';

const migrationsFolder = fileURLToPath(new URL('../drizzle', import.meta.url));

async function inChunks<T>(rows: T[], insert: (chunk: T[]) => Promise<unknown>): Promise<void> {
	for (let start = 0; start < rows.length; start += CHUNK) await insert(rows.slice(start, start + CHUNK));
}

export async function seed(database: DatabaseConfig, connections: number, groupSize: number, channelKind: 'text' | 'voice' = 'text'): Promise<SeededGroup[]> {
	const handle = await openDatabase(database, migrationsFolder);
	try {
		const now = new Date();
		const expiresAt = new Date(now.getTime() + SESSION_LIFETIME_MS);
		const userRows: (typeof users.$inferInsert)[] = [];
		const sessionRows: (typeof sessions.$inferInsert)[] = [];
		const communityRows: (typeof communities.$inferInsert)[] = [];
		const channelRows: (typeof channels.$inferInsert)[] = [];
		const memberRows: (typeof communityMembers.$inferInsert)[] = [];
		const groups: SeededGroup[] = [];
		let userIndex = 0;
		groupSizes(connections, groupSize).forEach((size, groupIndex) => {
			const communityId = crypto.randomUUID();
			const channelId = crypto.randomUUID();
			const tokens: string[] = [];
			let ownerId = '';
			for (let member = 0; member < size; member += 1, userIndex += 1) {
				const userId = crypto.randomUUID();
				if (member === 0) ownerId = userId;
				userRows.push({ id: userId, username: `bench${userIndex}`, displayName: `Bench ${userIndex}`, passwordHash: PLACEHOLDER_HASH });
				const token = generateToken();
				tokens.push(token);
				sessionRows.push({ id: sessionIdFromToken(token), userId, expiresAt, lastSeenAt: now, userAgent: 'hearth-bench', ipAddress: '127.0.0.1' });
				memberRows.push({ communityId, userId, role: member === 0 ? 'owner' : 'member' });
			}
			communityRows.push({ id: communityId, name: `Bench ${groupIndex}`, ownerId, systemChannelId: channelId });
			channelRows.push({ id: channelId, communityId, kind: channelKind, name: channelKind === 'voice' ? 'voice' : 'general', position: 0 });
			groups.push({ communityId, channelId, tokens });
		});
		await handle.db.transaction(async (tx) => {
			await inChunks(userRows, (chunk) => tx.insert(users).values(chunk));
			await inChunks(sessionRows, (chunk) => tx.insert(sessions).values(chunk));
			await inChunks(communityRows, (chunk) => tx.insert(communities).values(chunk));
			await inChunks(channelRows, (chunk) => tx.insert(channels).values(chunk));
			await inChunks(memberRows, (chunk) => tx.insert(communityMembers).values(chunk));
		});
		return groups;
	} finally {
		await handle.close();
	}
}

if (import.meta.main) {
	const { values } = parseArgs({
		options: {
			out: { type: 'string' },
			'data-dir': { type: 'string' },
			'database-url': { type: 'string' },
			connections: { type: 'string' },
			'group-size': { type: 'string' },
			'channel-kind': { type: 'string' }
		}
	});
	const database: DatabaseConfig | undefined = values['database-url']
		? { kind: 'postgres', url: values['database-url'], poolSize: 2 }
		: values['data-dir']
			? { kind: 'pglite', dataDir: values['data-dir'] }
			: undefined;
	if (!values.out || !database || !values.connections || !values['group-size']) {
		console.error('usage: node bench/seed.ts --out FILE (--data-dir DIR | --database-url URL) --connections N --group-size N');
		process.exit(2);
	}
	const groups = await seed(database, Number(values.connections), Number(values['group-size']), values['channel-kind'] === 'voice' ? 'voice' : 'text');
	writeFileSync(values.out, JSON.stringify(groups));
}
