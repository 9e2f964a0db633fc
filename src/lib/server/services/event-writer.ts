// Group commit for everything that appends channel events. Operations queue up while a transaction
// is in flight; when it commits, the next transaction takes everything queued (up to a cap). At low
// load an operation starts at once (no added latency); under load, N sends share one commit (one
// fsync) instead of paying one each. PostgreSQL with synchronous_commit does ~270 single-row
// commits/s on the build machine, so this is what makes thousands of messages per second possible.
//
// Order of effects per batch: commit, then resolve each operation (the caller acks), then publish
// the notices in sequence order. Nothing is published for a batch that did not commit.
import type { Database, Transaction } from '../db/open.ts';
import type { BusNotice, EventBus } from '../events/bus.ts';
import { safeError, type Logger } from '../logger.ts';
import { AppError } from '../errors.ts';

export type OpOutcome<T> = { result: T; notices: BusNotice[] };

/**
 * A bulk operation kind: many queued operations of the same kind run as one step (for sends: one
 * set of queries for the whole batch). It must validate every item before writing anything, and
 * report per-item failures as errors in the returned array instead of throwing.
 */
export type BulkStep<I, T> = {
	name: string;
	run(tx: Transaction, items: I[]): Promise<Array<OpOutcome<T> | AppError>>;
};

type Pending =
	| { kind: 'single'; run: (tx: Transaction) => Promise<OpOutcome<unknown>>; resolve: (v: unknown) => void; reject: (e: unknown) => void }
	| { kind: 'bulk'; step: BulkStep<unknown, unknown>; item: unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void };

/** Told about every committed batch (metrics). */
export type BatchObserver = (operations: number, newMessages: number) => void;

// Caps a batch so one transaction (and the pause of everyone queued behind it) stays short.
const MAX_BATCH = 256;

export class EventWriter {
	#db: Database;
	#bus: EventBus;
	#log: Logger;
	#queue: Pending[] = [];
	#running = false;
	#idleWaiters: Array<() => void> = [];
	#closed = false;
	#onCommitted: BatchObserver | undefined;
	#afterCommit = new Set<(notices: readonly BusNotice[]) => void>();
	/** Statistics for metrics and benchmarks. */
	readonly stats = { batches: 0, operations: 0, largestBatch: 0 };

	constructor(db: Database, bus: EventBus, log: Logger, onCommitted?: BatchObserver) {
		this.#db = db;
		this.#bus = bus;
		this.#log = log;
		this.#onCommitted = onCommitted;
	}

	/** Runs an arbitrary operation in a batch transaction (inside its own savepoint). */
	run<T>(operation: (tx: Transaction) => Promise<OpOutcome<T>>): Promise<T> {
		return new Promise<T>((resolve, reject) => {
			this.#enqueue({ kind: 'single', run: operation, resolve: resolve as (v: unknown) => void, reject });
		});
	}

	/** Queues one item of a bulk step; consecutive items of the same step share its queries. */
	runBulk<I, T>(step: BulkStep<I, T>, item: I): Promise<T> {
		return new Promise<T>((resolve, reject) => {
			this.#enqueue({ kind: 'bulk', step: step as BulkStep<unknown, unknown>, item, resolve: resolve as (v: unknown) => void, reject });
		});
	}

	/** Resolves once every queued operation has committed or failed. */
	drain(): Promise<void> {
		if (!this.#running && this.#queue.length === 0) return Promise.resolve();
		return new Promise((resolve) => this.#idleWaiters.push(resolve));
	}

	/** Refuses new operations; queued ones still complete (see drain). */
	close() {
		this.#closed = true;
	}

	#enqueue(pending: Pending) {
		if (this.#closed) {
			pending.reject(new AppError(503, 'unavailable', 'The server is shutting down; retry in a moment.'));
			return;
		}
		this.#queue.push(pending);
		if (!this.#running) void this.#loop();
	}

	async #loop() {
		this.#running = true;
		try {
			while (this.#queue.length > 0) {
				// Let the event loop read the frames that are already waiting before taking a batch.
				// PGlite answers every query within the same tick (it runs in this thread), so without
				// this turn a batch would start and commit before the next socket is even read, and
				// every batch would hold exactly one operation. setImmediate runs right after the
				// current I/O phase: it adds no timer delay at low load.
				await new Promise<void>((resolve) => setImmediate(resolve));
				const batch = this.#queue.splice(0, MAX_BATCH);
				await this.#runBatch(batch);
			}
		} finally {
			this.#running = false;
			for (const wake of this.#idleWaiters.splice(0)) wake();
		}
	}

	async #runBatch(batch: Pending[]) {
		this.stats.batches += 1;
		this.stats.operations += batch.length;
		this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
		let outcomes: Array<OpOutcome<unknown> | AppError>;
		try {
			outcomes = await this.#db.transaction((tx) => this.#execute(tx, batch));
		} catch (error) {
			if (batch.length === 1) {
				batch[0]!.reject(error);
				return;
			}
			// One operation hit an unexpected database error and took the batch down with it. Run each
			// on its own so only the faulty one fails; the others are unaffected (idempotent by design).
			this.#log.warn({ err: safeError(error), size: batch.length }, 'batch failed; retrying operations one by one');
			for (const pending of batch) await this.#runBatch([pending]);
			return;
		}
		const notices: BusNotice[] = [];
		batch.forEach((pending, index) => {
			const outcome = outcomes[index]!;
			if (outcome instanceof AppError) pending.reject(outcome);
			else {
				pending.resolve(outcome.result);
				notices.push(...outcome.notices);
			}
		});
		// New messages are exactly the committed message.created events (a retried send that was
		// already stored produces none).
		let newMessages = 0;
		for (const notice of notices) if (notice.type === 'channel.event' && notice.event.type === 'message.created') newMessages += 1;
		this.#onCommitted?.(batch.length, newMessages);
		this.#bus.publish(notices);
		// Work that must happen once per commit, on the node that committed (Web Push), not once
		// per node the bus reaches.
		for (const listener of this.#afterCommit) {
			try {
				listener(notices);
			} catch (error) {
				this.#log.error({ err: safeError(error) }, 'after-commit listener failed');
			}
		}
	}

	/** Calls `listener` with the notices of every committed batch, on this node only. */
	afterCommit(listener: (notices: readonly BusNotice[]) => void): () => void {
		this.#afterCommit.add(listener);
		return () => this.#afterCommit.delete(listener);
	}

	async #execute(tx: Transaction, batch: Pending[]): Promise<Array<OpOutcome<unknown> | AppError>> {
		const outcomes: Array<OpOutcome<unknown> | AppError> = new Array(batch.length);
		let index = 0;
		while (index < batch.length) {
			const pending = batch[index]!;
			if (pending.kind === 'bulk') {
				// Group the run of consecutive items of this step (arrival order is kept).
				let end = index + 1;
				while (end < batch.length) {
					const next = batch[end]!;
					if (next.kind !== 'bulk' || next.step !== pending.step) break;
					end += 1;
				}
				const group = batch.slice(index, end) as Array<Extract<Pending, { kind: 'bulk' }>>;
				const results = await pending.step.run(tx, group.map((g) => g.item));
				results.forEach((result, offset) => (outcomes[index + offset] = result));
				index = end;
			} else {
				try {
					// A savepoint per operation: a domain error after partial writes rolls back only them.
					outcomes[index] = await tx.transaction((savepoint) => pending.run(savepoint));
				} catch (error) {
					if (!(error instanceof AppError)) throw error;
					outcomes[index] = error;
				}
				index += 1;
			}
		}
		return outcomes;
	}
}
