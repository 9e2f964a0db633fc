// The plaintext canary proof (issue 3): people in real browsers send a channel message, a DM, an
// edit (and read its history), a reply, a thread reply, a reaction, a pin, an image and a text file, each carrying a unique random canary (file
// names and file contents too). Then the server is stopped and EVERY table of its database is
// read, every column as text (bytea as hex, so attachment bytes are searched too), and its complete
// log output at the most verbose level: none of the canaries may appear anywhere.
//
// The server is this spec's own (not the shared e2e server, whose database is in memory and whose
// output is discarded): a real `node server/main.ts` on a PGlite folder, or on a fresh PostgreSQL
// database with TEST_DB=postgres (TEST_DATABASE_URL), opened after the server has stopped.
// If a client ever sent a body, name or file in the clear, this test fails and says where.
import { randomBytes } from 'node:crypto';
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import postgres from 'postgres';
import { createTestDatabase, startServer, testEngine, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { PNG_2X2 } from './attachment-fixtures.ts';
import { ContextApi, composer, messageWith, send } from './support.ts';

// Two browsers, a server start and stop, a full dump: more than the default minute on 2 shared cores.
test.setTimeout(180_000);

const tag = randomBytes(9).toString('hex');
const canary = (what: string) => `canary${what}${tag}`;
const CANARIES = {
	channel: canary('channel'),
	dm: canary('dm'),
	edit: canary('edit'),
	reply: canary('reply'),
	thread: canary('thread'),
	imageName: canary('imagename'),
	imageBytes: canary('imagebytes'),
	fileName: canary('filename'),
	fileBytes: canary('filebytes'),
	attachmentText: canary('attachmenttext')
};
/** The reaction: an emoji no other step uses, so finding its bytes anywhere means it was stored in the clear. */
const REACTION = { emoji: '🚀', name: 'Rocket' };

type Person = { context: BrowserContext; page: Page; api: ContextApi; id: string };

let database: TestDatabase;
let server: TestServer;
let ana: Person;
let bo: Person;

async function person(browser: Browser, username: string, displayName: string, invite?: string): Promise<Person> {
	const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 800 } });
	const api = new ContextApi(context, server.url);
	const { user } = await api.signUp(username, displayName, invite);
	return { context, page: await context.newPage(), api, id: user.id };
}

test.beforeAll(async ({ browser }) => {
	database = await createTestDatabase();
	// trace: the most the server ever writes; the canaries must be absent even there.
	server = await startServer({ database, env: { LOG_LEVEL: 'trace' } });
	ana = await person(browser, `ana${tag.slice(0, 6)}`, 'Ana Canary');
	const community = await ana.api.createCommunity('Canary club');
	const { invite } = await ana.api.send<{ invite: { code: string } }>('POST', `/api/communities/${community.id}/invites`, {});
	bo = await person(browser, `bo${tag.slice(0, 6)}`, 'Bo Canary', invite.code);
	await ana.page.goto(`/c/${community.id}/${community.systemChannelId}`);
	await bo.page.goto(`/c/${community.id}/${community.systemChannelId}`);
	await expect(composer(ana.page)).toBeVisible();
	await expect(composer(bo.page)).toBeVisible();
});

test.afterAll(async () => {
	await ana?.context.close();
	await bo?.context.close();
	await server?.stop();
	await database?.drop();
});

test('after browser users send messages, an edit, a reply, a thread reply, a reaction, a pin and files carrying canaries, the edit history, the thread and the pinned list decrypt in the browser, and no canary is in any table of the server database nor in its logs', async () => {
	// The dump is checked even when a step in the browser failed (a client sending plaintext may
	// also fail to show what it sent): the canary verdict comes first, then the step's failure.
	test.info().annotations.push({ type: 'database', description: database.engine });
	let stepFailure: unknown;
	try {
		await sendEverything();
	} catch (error) {
		stepFailure = error;
	}
	await expectNoCanaryOnTheServer();
	if (stepFailure) throw stepFailure;
});

async function sendEverything() {
	const a = ana.page;
	const b = bo.page;

	await send(a, `first ${CANARIES.channel}`);
	await expect(messageWith(b, CANARIES.channel)).toBeVisible();

	// An edit of that message.
	const mine = messageWith(a, CANARIES.channel);
	await mine.hover();
	await mine.getByRole('button', { name: 'Edit message' }).click();
	const editor = a.getByRole('textbox', { name: 'Edit message' });
	await editor.fill(`edited ${CANARIES.edit}`);
	await editor.press('Enter');
	await expect(messageWith(b, CANARIES.edit)).toContainText('(edited)');

	// A reply and a reaction from the other person.
	const originalId = await messageWith(b, CANARIES.edit).getAttribute('data-message-id');
	// Pinned by id: the reply quotes the original's text too.
	const original = b.locator(`article[data-message-id="${originalId}"]`);
	await original.hover();
	await original.getByRole('button', { name: 'Reply', exact: true }).click();
	await send(b, `answer ${CANARIES.reply}`);
	await expect(messageWith(a, CANARIES.reply)).toBeVisible();
	await original.hover();
	await original.getByRole('button', { name: 'Add reaction' }).click();
	await b.getByRole('dialog', { name: 'Choose a reaction' }).getByRole('button', { name: REACTION.name }).click();
	await expect(a.locator(`article[data-message-id="${originalId}"]`).getByRole('button', { name: `${REACTION.name}: 1 reaction` })).toBeVisible();

	// The edit history: the version the edit replaced is kept (as ciphertext) and decrypted by the reader.
	await original.getByRole('button', { name: '(edited)' }).click();
	const history = b.getByRole('dialog', { name: 'Edit history' });
	await expect(history.locator('.version')).toHaveCount(2);
	await expect(history.locator('.version').nth(1)).toContainText(`first ${CANARIES.channel}`);
	await history.getByRole('button', { name: 'Close' }).click();

	// A pin: the pinned list is decrypted by the reader too.
	const pinned = a.locator(`article[data-message-id="${originalId}"]`);
	await pinned.hover();
	await pinned.getByRole('button', { name: 'Pin message' }).click();
	await b.locator('[data-notice-type="message.pinned"]').getByRole('button', { name: 'See all pinned messages' }).click();
	await expect(b.getByRole('dialog', { name: 'Pinned messages' }).locator('.pin')).toContainText(`edited ${CANARIES.edit}`);
	await b.getByRole('dialog', { name: 'Pinned messages' }).getByRole('button', { name: 'Close' }).click();

	// A reply in a thread of that message: sealed like any channel message, read in the other's thread panel.
	await original.hover();
	await original.getByRole('button', { name: 'Reply in thread' }).click();
	const benThread = b.locator('[data-thread-panel]');
	await benThread.getByRole('textbox', { name: 'Reply in thread' }).fill(`in thread ${CANARIES.thread}`);
	await benThread.getByRole('textbox', { name: 'Reply in thread' }).press('Enter');
	const annSummary = a.locator(`article[data-message-id="${originalId}"] [data-thread-summary]`);
	await expect(annSummary).toContainText('1 reply');
	await annSummary.click();
	const annThread = a.locator('[data-thread-panel]');
	await expect(annThread.locator('article[data-message-id]', { hasText: CANARIES.thread })).toBeVisible();
	await annThread.getByRole('button', { name: 'Close thread' }).click();
	await benThread.getByRole('button', { name: 'Close thread' }).click();

	// An image and a text file, canaries in their names and in their bytes.
	await a.getByTestId('attach-input').setInputFiles([
		// Bytes after IEND are ignored by decoders: the image still shows.
		{ name: `${CANARIES.imageName}.png`, mimeType: 'image/png', buffer: Buffer.concat([PNG_2X2, Buffer.from(CANARIES.imageBytes)]) },
		{ name: `${CANARIES.fileName}.txt`, mimeType: 'text/plain', buffer: Buffer.from(`notes ${CANARIES.fileBytes}\n`) }
	]);
	await expect(a.getByRole('list', { name: 'Files to send' }).getByText('Ready')).toHaveCount(2);
	await send(a, `files ${CANARIES.attachmentText}`);
	const withFiles = messageWith(b, CANARIES.attachmentText);
	await expect(withFiles.locator('[data-attachment="image"] img')).toHaveAttribute('src', /^blob:/);
	await expect(withFiles.locator('[data-attachment="file"]')).toContainText(CANARIES.fileName);

	// A direct message.
	const { channel: dm } = await ana.api.send<{ channel: { id: string } }>('POST', '/api/dms', { userId: bo.id });
	await a.goto(`/dm/${dm.id}`);
	await expect(composer(a)).toBeVisible();
	await send(a, `private ${CANARIES.dm}`);
	await b.goto(`/dm/${dm.id}`);
	await expect(messageWith(b, CANARIES.dm)).toBeVisible();
}

async function expectNoCanaryOnTheServer() {
	// Stopped first: everything it would write is written (and PGlite's folder can be opened).
	expect(await server.stop()).toBe(0);
	const needles: [string, string][] = [
		...Object.entries(CANARIES).flatMap(([what, value]): [string, string][] => [
			[what, value],
			// bytea columns read as text are hex: the attachment bytes are searched in that form too.
			[`${what} (hex)`, Buffer.from(value).toString('hex')]
		]),
		['reaction emoji', REACTION.emoji],
		['reaction emoji (hex)', Buffer.from(REACTION.emoji).toString('hex')]
	];

	const rows = await dumpEveryTable(database);

	const found: string[] = [];
	for (const { table, text } of rows) {
		for (const [what, needle] of needles) if (text.includes(needle)) found.push(`${what} in ${table}`);
	}
	const logs = server.logs.join('\n');
	expect(logs.length).toBeGreaterThan(0);
	for (const [what, needle] of needles) if (logs.includes(needle)) found.push(`${what} in the server log`);
	expect(found, 'plaintext reached the server').toEqual([]);
	// The dump is real: it holds the rows the steps above created (checked after the verdict, which must show even when a step failed).
	expect(rows.filter((r) => r.table === 'public.messages').length).toBeGreaterThanOrEqual(4);
	expect(rows.filter((r) => r.table === 'public.attachments').length).toBe(2);
	expect(rows.filter((r) => r.table === 'public.message_reactions' || r.table === 'public.reactions').length).toBeGreaterThanOrEqual(1);
}

type DumpedRow = { table: string; text: string };

/** Every row of every user table, as text (a whole-row cast: every column, bytea as \x-hex). */
async function dumpEveryTable(db: TestDatabase): Promise<DumpedRow[]> {
	const tablesQuery = `select table_schema, table_name from information_schema.tables
		where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')
		order by 1, 2`;
	const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
	if (testEngine() === 'postgres') {
		const sql = postgres(db.url!, { max: 1, onnotice: () => {} });
		try {
			const tables = await sql.unsafe<{ table_schema: string; table_name: string }[]>(tablesQuery);
			expect(tables.length).toBeGreaterThan(10);
			const out: DumpedRow[] = [];
			for (const t of tables) {
				const rows = await sql.unsafe<{ row: string }[]>(`select t::text as row from ${quote(t.table_schema)}.${quote(t.table_name)} t`);
				for (const r of rows) out.push({ table: `${t.table_schema}.${t.table_name}`, text: r.row });
			}
			return out;
		} finally {
			await sql.end();
		}
	}
	const { PGlite } = await import('@electric-sql/pglite');
	const pg = new PGlite(db.env.DATA_DIR!);
	try {
		const tables = (await pg.query<{ table_schema: string; table_name: string }>(tablesQuery)).rows;
		expect(tables.length).toBeGreaterThan(10);
		const out: DumpedRow[] = [];
		for (const t of tables) {
			const rows = (await pg.query<{ row: string }>(`select t::text as row from ${quote(t.table_schema)}.${quote(t.table_name)} t`)).rows;
			for (const r of rows) out.push({ table: `${t.table_schema}.${t.table_name}`, text: r.row });
		}
		return out;
	} finally {
		await pg.close();
	}
}
