// Resource readings from /proc (Linux): resident memory and CPU time of given processes, and the
// whole machine's CPU use, so a report can say how much of the 2 cores the server, the load
// generator and everything else took during a measured window.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

function clockTicksPerSecond(): number {
	try {
		return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
	} catch {
		return 100; // the value on every common Linux build
	}
}
const TICKS = clockTicksPerSecond();

/** Resident set size in bytes (VmRSS), or null once the process is gone. */
export function rssBytes(pid: number): number | null {
	try {
		const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
		return match ? Number(match[1]) * 1024 : null;
	} catch {
		return null;
	}
}

/** User + system CPU seconds the process has used so far, or null once it is gone. */
export function cpuSeconds(pid: number): number | null {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		// The command name (field 2) may contain spaces; the fields after its closing paren do not.
		const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		// fields[0] is field 3 (state), so utime (field 14) is fields[11] and stime (15) fields[12].
		return (Number(fields[11]) + Number(fields[12])) / TICKS;
	} catch {
		return null;
	}
}

export type MachineCpu = { busySeconds: number; totalSeconds: number };

/** CPU time of all cores since boot, busy (everything but idle and iowait) and total. */
export function machineCpu(): MachineCpu {
	const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
	const values = line.trim().split(/\s+/).slice(1).map(Number);
	// user nice system idle iowait irq softirq steal (guest time is already inside user).
	const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
	const idle = (values[3] ?? 0) + (values[4] ?? 0);
	return { busySeconds: (total - idle) / TICKS, totalSeconds: total / TICKS };
}

export function loadAverage(): [number, number, number] {
	const [one, five, fifteen] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
	return [one ?? 0, five ?? 0, fifteen ?? 0];
}

/**
 * PostgreSQL backends serving one database: their process titles read
 * "postgres: <cluster>: <user> <database> <client> <state>". The shared background processes
 * (WAL writer, checkpointer) serve every database and are left out; they show up as "other".
 */
export function postgresBackendPids(database: string): number[] {
	const pids: number[] = [];
	for (const entry of readdirSync('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const title = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
			if (title.startsWith('postgres: ') && title.split(' ').includes(database)) pids.push(Number(entry));
		} catch {
			// The process ended while we looked.
		}
	}
	return pids;
}

/** The open-file limit in force for this process (children inherit it). */
export function openFileLimit(): number | null {
	try {
		const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
		if (!match) return null;
		return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
	} catch {
		return null;
	}
}

/** How many local ports outgoing connections to one server address can use. */
export function ephemeralPortCount(): number | null {
	try {
		const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
		return low !== undefined && high !== undefined ? high - low + 1 : null;
	} catch {
		return null;
	}
}

/** Samples the RSS of one process at a fixed interval and keeps the series and the peak. */
export class RssSampler {
	readonly samples: Array<{ atMs: number; rssBytes: number }> = [];
	peak = 0;
	#timer: NodeJS.Timeout;
	#pid: number;
	#startedAt = performance.now();

	constructor(pid: number, intervalMs: number) {
		this.#pid = pid;
		this.sample();
		this.#timer = setInterval(() => this.sample(), intervalMs);
		this.#timer.unref();
	}

	sample(): number | null {
		const rss = rssBytes(this.#pid);
		if (rss !== null) {
			this.samples.push({ atMs: Math.round(performance.now() - this.#startedAt), rssBytes: rss });
			this.peak = Math.max(this.peak, rss);
		}
		return rss;
	}

	stop(): void {
		clearInterval(this.#timer);
	}
}
