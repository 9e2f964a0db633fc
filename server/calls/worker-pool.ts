// The mediasoup worker processes: one per core by default, each with a WebRtcServer so all media of
// a worker goes through one UDP and one TCP port (CALL_PORT + worker index). Rooms go to the worker
// with the fewest routers (ties: round robin). A worker that dies is replaced on the same port; the
// rooms it carried are closed by their owners (their routers close with the worker) and the
// clients told to rejoin, which lands them on a live worker.
import type { types } from 'mediasoup';
import type { CallsConfig } from '#lib/server/config/config.ts';
import { safeError, type Logger } from '#lib/server/logger.ts';

export type WorkerSlot = {
	index: number;
	worker: types.Worker;
	webRtcServer: types.WebRtcServer;
	routers: number;
};

// A worker that fails to start again is retried after this long: long enough not to spin on a
// persistent failure (port taken, binary gone), short enough that capacity comes back soon.
const RESPAWN_RETRY_MS = 2_000;

export class CallWorkerPool {
	readonly #config: CallsConfig;
	readonly #workerBin: string;
	readonly #log: Logger;
	readonly #slots: (WorkerSlot | null)[];
	#next = 0;
	#closed = false;

	private constructor(config: CallsConfig, workerBin: string, log: Logger) {
		this.#config = config;
		this.#workerBin = workerBin;
		this.#log = log;
		this.#slots = Array.from({ length: config.workers }, () => null);
	}

	/** Starts every worker; throws (and leaves none running) when the first cannot start. */
	static async start(config: CallsConfig, workerBin: string, log: Logger): Promise<CallWorkerPool> {
		const pool = new CallWorkerPool(config, workerBin, log);
		try {
			for (let index = 0; index < config.workers; index++) pool.#slots[index] = await pool.#spawn(index);
		} catch (error) {
			pool.close();
			throw error;
		}
		return pool;
	}

	async #spawn(index: number): Promise<WorkerSlot> {
		// mediasoup (~6.5 MB of heap: its flatbuffers protocol is ~260 modules) is loaded with the
		// first worker, so a server without a worker (calls unavailable) never loads it.
		const { createWorker } = await import('mediasoup');
		const worker = await createWorker({ workerBin: this.#workerBin, logLevel: 'warn' });
		let webRtcServer: types.WebRtcServer;
		try {
			const port = this.#config.port === 0 ? 0 : this.#config.port + index;
			const announcedAddress = this.#config.announcedAddress;
			webRtcServer = await worker.createWebRtcServer({
				listenInfos: (['udp', 'tcp'] as const).map((protocol) => ({
					protocol,
					ip: this.#config.listenIp,
					port,
					...(announcedAddress ? { announcedAddress } : {})
				}))
			});
		} catch (error) {
			worker.close();
			throw error;
		}
		const slot: WorkerSlot = { index, worker, webRtcServer, routers: 0 };
		worker.on('died', (error) => this.#onDied(slot, error));
		this.#log.info({ worker: index, pid: worker.pid }, 'call worker started');
		return slot;
	}

	#onDied(slot: WorkerSlot, error: Error): void {
		if (this.#closed) return;
		this.#log.error({ worker: slot.index, pid: slot.worker.pid, err: safeError(error) }, 'call worker died; replacing it');
		if (this.#slots[slot.index] === slot) this.#slots[slot.index] = null;
		this.#respawn(slot.index);
	}

	#respawn(index: number): void {
		if (this.#closed) return;
		this.#spawn(index).then(
			(fresh) => {
				if (this.#closed) fresh.worker.close();
				else this.#slots[index] = fresh;
			},
			(error) => {
				this.#log.error({ worker: index, err: safeError(error) }, 'replacing a call worker failed; retrying');
				setTimeout(() => this.#respawn(index), RESPAWN_RETRY_MS).unref();
			}
		);
	}

	/** The live worker with the fewest routers; ties go round robin so rooms spread from the start. */
	pick(): WorkerSlot | null {
		const live = this.#slots.filter((slot): slot is WorkerSlot => slot !== null && !slot.worker.closed);
		if (live.length === 0) return null;
		const fewest = Math.min(...live.map((slot) => slot.routers));
		const candidates = live.filter((slot) => slot.routers === fewest);
		const chosen = candidates[this.#next % candidates.length]!;
		this.#next += 1;
		return chosen;
	}

	/** Live workers (for metrics and tests). */
	workers(): WorkerSlot[] {
		return this.#slots.filter((slot): slot is WorkerSlot => slot !== null && !slot.worker.closed);
	}

	get size(): number {
		return this.#config.workers;
	}

	close(): void {
		this.#closed = true;
		for (const slot of this.#slots) slot?.worker.close();
	}
}
