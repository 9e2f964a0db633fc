// Direct SQL access to a test server's database, for checks the API cannot show (what is stored)
// and for setting up states it cannot reach (an expired invite, a community admin).
//
// PostgreSQL is queried while the server runs. PGlite allows only one process on its data folder,
// so for PGlite the server is stopped, the folder opened here, and the server restarted on the
// same port afterwards: its in-memory state (presence, throttles, sockets) starts over.
import { PGlite } from '@electric-sql/pglite';
import postgres from 'postgres';
import { restartServer, type TestServer } from './test-server.ts';

export type Row = Record<string, unknown>;
export type Sql = (text: string, params?: unknown[]) => Promise<Row[]>;

export async function withSql<T>(server: TestServer, work: (sql: Sql) => Promise<T>): Promise<T> {
	const env = server.options.database.env;
	if (env.DATABASE_URL) {
		const client = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} });
		try {
			return await work(async (text, params = []) => [...(await client.unsafe(text, params as never[]))] as Row[]);
		} finally {
			await client.end();
		}
	}
	const dir = env.DATA_DIR;
	if (!dir || dir.startsWith('memory://')) {
		throw new Error('withSql on PGlite needs a database folder, as createTestDatabase() makes: an in-memory database lives inside the server process.');
	}
	await server.stop();
	let result: T;
	const pglite = await PGlite.create(dir);
	try {
		result = await work(async (text, params = []) => (await pglite.query<Row>(text, params)).rows);
	} finally {
		await pglite.close();
	}
	await restartServer(server);
	return result;
}
