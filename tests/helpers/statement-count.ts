// Counts the SQL statements an operation makes the server run, from its own log: a server started
// with LOG_LEVEL=debug and LOG_SQL=true logs the text (never the parameters) of every statement.
// The operation is framed by two marker requests whose request-log lines delimit it in the (ordered)
// log; the second marker's own statements are subtracted.
import type { TestServer } from './test-server.ts';

export const STATEMENT_LOGGING = { LOG_LEVEL: 'debug', LOG_SQL: 'true' } as const;

type LogLine = { msg?: string; sql?: string; requestId?: string };

let markerCounter = 0;

function parse(line: string): LogLine {
	try {
		return JSON.parse(line) as LogLine;
	} catch {
		return {};
	}
}

/** Sends a signed-out GET /api/instance and returns the index of its request log line. */
async function marker(server: TestServer): Promise<number> {
	markerCounter += 1;
	const requestId = `statement-marker-${process.pid}-${markerCounter}`;
	const response = await fetch(`${server.url}/api/instance`, { headers: { 'x-request-id': requestId } });
	await response.arrayBuffer();
	const deadline = Date.now() + 5_000;
	for (;;) {
		const index = server.logs.findIndex((line) => line.includes(requestId) && parse(line).msg === 'request');
		if (index !== -1) return index;
		if (Date.now() > deadline) throw new Error('marker request was not logged: is the server running with STATEMENT_LOGGING?');
		await new Promise((resolve) => setTimeout(resolve, 10));
	}
}

function statementsBetween(server: TestServer, from: number, to: number): string[] {
	return server.logs
		.slice(from + 1, to)
		.map(parse)
		.filter((line) => line.msg === 'sql')
		.map((line) => line.sql ?? '');
}

/**
 * The statements the server ran for `operation` (which must be complete when its promise resolves:
 * for a /ws frame, await its ack). Nothing else may use the server meanwhile.
 */
export async function statementsOf(server: TestServer, operation: () => Promise<unknown>): Promise<string[]> {
	// The marker's own cost (instance settings and "does any user exist": 2 statements), measured.
	const a = await marker(server);
	const b = await marker(server);
	const markerCost = statementsBetween(server, a, b).length;
	const start = await marker(server);
	await operation();
	const end = await marker(server);
	const statements = statementsBetween(server, start, end);
	return statements.slice(0, statements.length - markerCost);
}

/** A statement's gist for readable failures: its verb and first table, e.g. "select channels". */
export function gist(sql: string): string {
	const verb = /^\s*(\w+)/.exec(sql)?.[1]?.toLowerCase() ?? '?';
	// A statement with data-modifying WITH parts is named by every write in it, in order:
	// 'insert messages + update channels + insert channel_events'.
	if (verb === 'with') {
		const writes = [...sql.matchAll(/\b(insert\s+into|update|delete\s+from)\s+"?(\w+)"?/gi)].map(([, what, table]) => `${what!.split(/\s+/)[0]!.toLowerCase()} ${table}`);
		if (writes.length > 0) return writes.join(' + ');
	}
	const table = /\b(?:from|into|update)\s+"?(\w+)"?/i.exec(sql)?.[1] ?? '';
	return `${verb} ${table}`.trim();
}
