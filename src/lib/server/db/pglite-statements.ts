// Runs the statements the server repeats as named prepared statements on PGlite.
//
// PGlite's query() calls into its WebAssembly Postgres six times per statement (parse, describe,
// bind, describe, execute, sync) and parses and plans the SQL text every time: ~0.3 ms of CPU for a
// primary-key lookup on the build machine, and a message send runs eight statements. A statement
// prepared once under a name runs in one call (bind, execute and sync in one buffer) with
// a cached plan: ~0.1 ms (measured with bench/; see bench/README.md, "Where the CPU goes").
//
// Only text seen before is prepared (seen-once.ts): preparing a text that occurs once would cost an
// extra round trip for nothing. The prepared set is bounded (least recently used out; the statement is closed on the server side too).
// Results are parsed by PGlite's own parser with the same options, so callers see no difference.
import { parse, protocol, type PGlite, type QueryOptions, type Results } from '@electric-sql/pglite';
import { DEFAULT_MAX_PREPARED, SeenOnce } from './seen-once.ts';

// The description of a statement's result columns, as PGlite's parser returns it.
type RowDescription = Awaited<ReturnType<PGlite['execProtocolStream']>>[number];
type Statement = { name: string; paramTypes: number[]; rowDescription: RowDescription | undefined };

/** PGlite's mutexes and serializers: not in its typings, stable across its 0.x releases. */
type PgliteInternals = {
	serializers: Record<number, (value: unknown) => string>;
	parsers: Record<number, (value: string, typeId?: number) => unknown>;
	_runExclusiveQuery<T>(fn: () => Promise<T>): Promise<T>;
	_runExclusiveTransaction<T>(fn: () => Promise<T>): Promise<T>;
};

const serialize = protocol.serialize;

export class PgliteStatements {
	#client: PGlite;
	#internals: PgliteInternals;
	#prepared = new Map<string, Statement>();
	#seenOnce = new SeenOnce();
	#toClose: string[] = [];
	#counter = 0;
	#max: number;
	/** For tests and metrics: statements run prepared, and statements prepared. */
	readonly stats = { hits: 0, prepared: 0 };

	constructor(client: PGlite, options: { maxPrepared?: number } = {}) {
		this.#client = client;
		this.#internals = client as unknown as PgliteInternals;
		this.#max = options.maxPrepared ?? DEFAULT_MAX_PREPARED;
	}

	/**
	 * Runs one statement. `unprepared` is how it runs without a name (PGlite's own query() of the
	 * client or of the transaction). `inTransaction`: the caller holds PGlite's transaction lock (a
	 * statement of client.transaction's callback), so only the query lock is taken, as tx.query does.
	 */
	async query<T>(
		text: string,
		params: unknown[] | undefined,
		options: QueryOptions | undefined,
		inTransaction: boolean,
		unprepared: (text: string, params?: unknown[], options?: QueryOptions) => Promise<Results<T>>
	): Promise<Results<T>> {
		if (!this.#prepared.has(text) && !this.#seenOnce.has(text)) {
			this.#seenOnce.remember(text);
			return unprepared(text, params, options);
		}
		const run = () => this.#internals._runExclusiveQuery(() => this.#runPrepared<T>(text, params ?? [], options));
		if (inTransaction) return run();
		const result = await this.#internals._runExclusiveTransaction(run);
		// As PGlite's query() does after a statement outside a transaction: flush to the data folder.
		if (!this.#client.isInTransaction()) await this.#client.syncToFs();
		return result;
	}

	async #runPrepared<T>(text: string, params: unknown[], options: QueryOptions | undefined): Promise<Results<T>> {
		let statement = this.#prepared.get(text);
		if (statement) {
			// Least recently used goes first: move this one to the end.
			this.#prepared.delete(text);
			this.#prepared.set(text, statement);
			this.stats.hits += 1;
		} else {
			const name = `hearth_${++this.#counter}`;
			const { paramTypes, rowDescription } = await this.#describe(name, serialize.parse({ name, text, types: options?.paramTypes ?? [] }));
			statement = { name, paramTypes, rowDescription };
			this.#seenOnce.forget(text);
			this.#prepared.set(text, statement);
			this.stats.prepared += 1;
			if (this.#prepared.size > this.#max) {
				const [oldestText, oldest] = this.#prepared.entries().next().value!;
				this.#prepared.delete(oldestText);
				this.#toClose.push(oldest.name);
			}
		}
		const parts = this.#toClose.splice(0).map((name) => serialize.close({ type: 'S', name }));
		parts.push(this.#bind(statement.name, statement.paramTypes, params, options));
		return this.#execute<T>(parts, statement.rowDescription, options);
	}

	/** Parses under a name; returns the parameter types the server inferred and the result's columns. */
	async #describe(name: string, parseMessage: Uint8Array): Promise<{ paramTypes: number[]; rowDescription: RowDescription | undefined }> {
		const describe = serialize.describe({ type: 'S', name });
		const messages = await this.#client.execProtocolStream(concat([parseMessage, describe, serialize.sync()]), { syncToFs: false });
		return { paramTypes: parse.parseDescribeStatementResults(messages), rowDescription: messages.find((m) => m.name === 'rowDescription') };
	}

	#bind(statement: string, paramTypes: number[], params: unknown[], options: QueryOptions | undefined): Uint8Array {
		// Exactly PGlite's own serialisation: by the parameter's type, text otherwise.
		const values = params.map((param, index) => {
			if (param === null || param === undefined) return null;
			const type = paramTypes[index]!;
			const serializer = options?.serializers?.[type] ?? this.#internals.serializers[type];
			return serializer ? serializer(param) : String(param);
		});
		return serialize.bind({ statement, values });
	}

	/**
	 * One call into PGlite: the given messages, then execute and sync; the rows parsed as query()
	 * would. The result's columns are those described when the statement was prepared: asking again
	 * on every run (describe) made PGlite write and parse the same column list each time, ~3.5 % of the
	 * server's CPU in a bench profile at 10,000 deliveries/s.
	 */
	async #execute<T>(parts: Uint8Array[], rowDescription: RowDescription | undefined, options: QueryOptions | undefined): Promise<Results<T>> {
		parts.push(serialize.execute({}), serialize.sync());
		const messages = await this.#client.execProtocolStream(concat(parts), { syncToFs: false });
		if (rowDescription) messages.unshift(rowDescription);
		return parse.parseResults(messages, this.#internals.parsers, options)[0] as Results<T>;
	}
}

function concat(parts: Uint8Array[]): Uint8Array {
	let length = 0;
	for (const part of parts) length += part.length;
	const buffer = new Uint8Array(length);
	let offset = 0;
	for (const part of parts) {
		buffer.set(part, offset);
		offset += part.length;
	}
	return buffer;
}
