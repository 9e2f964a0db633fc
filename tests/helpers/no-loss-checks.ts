// The no-loss invariants shared by the single-node tests (tests/integration/no-loss.test.ts) and
// the cluster tests: exactly the server's history on every client, each message once, in seq order.
import { expect } from 'vitest';
import type { HistoryPage, MessageView } from '#lib/shared/api-types.ts';
import { decodeMessageBody, encodeMessageBody } from '#lib/shared/message-body.ts';
import type { TestClient } from './clients.ts';
import { waitUntil, type SyncClient } from './sync-client.ts';

/** The channel's whole history as the server has it, oldest first. */
export async function serverHistory(client: TestClient, channelId: string): Promise<MessageView[]> {
	const all: MessageView[] = [];
	let after = 0;
	for (;;) {
		const page = await client.api.get<HistoryPage>(`/api/channels/${channelId}/messages?after=${after}&limit=100`);
		all.push(...page.messages);
		if (!page.hasMoreAfter || page.messages.length === 0) return all;
		after = page.messages.at(-1)!.seq;
	}
}

export const text = (m: MessageView) => decodeMessageBody(m.payload)?.text ?? '';

/** Sends `count` messages from a client, one every `intervalMs`, labelled with the sender's name. */
export async function sendSeries(client: SyncClient, channelId: string, label: string, count: number, intervalMs: number): Promise<string[]> {
	const sent: string[] = [];
	for (let i = 0; i < count; i += 1) {
		const body = `${label}-${String(i).padStart(4, '0')}`;
		client.sync.send(channelId, encodeMessageBody(body));
		sent.push(body);
		await new Promise((resolve) => setTimeout(resolve, intervalMs));
	}
	return sent;
}

/**
 * The invariants, checked on every client: it holds exactly the server's history (each message
 * once, ids unique, sequence strictly increasing, the same order as the server), every sent body
 * is there exactly once, and each sender's messages appear in the order they were sent.
 */
export function expectConsistent(clients: SyncClient[], channelId: string, history: MessageView[], sentBySender: string[][]) {
	const allSent = sentBySender.flat();
	expect(history.map(text).sort()).toEqual([...allSent].sort());
	const seqs = history.map((m) => m.seq);
	expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
	expect(new Set(seqs).size).toBe(seqs.length);
	for (const sent of sentBySender) {
		const order = history.map(text).filter((t) => sent.includes(t));
		expect(order).toEqual(sent);
	}
	for (const client of clients) {
		const timeline = client.sync.timeline(channelId)!;
		expect(timeline.messages.map((m) => m.id)).toEqual(history.map((m) => m.id));
		expect(timeline.messages.map(text)).toEqual(history.map(text));
		expect(client.sync.outbox.items).toEqual([]);
	}
}

export async function waitForAll(clients: SyncClient[], channelId: string, total: number, timeoutMs = 45_000) {
	try {
		await waitUntil(
			() => clients.every((c) => c.sync.outbox.items.length === 0 && (c.sync.timeline(channelId)?.messages.length ?? 0) >= total),
			timeoutMs,
			`every client acknowledged its sends and holds all ${total} messages`
		);
	} catch (error) {
		const states = clients.map((c, i) => {
			const t = c.sync.timeline(channelId);
			return `client ${i}: ${c.connection.state}, reconnects ${c.connection.reconnects}, outbox ${c.sync.outbox.items.length}, messages ${t?.messages.length}, cursor ${t?.cursor}, buffered ${t?.bufferedCount}`;
		});
		throw new Error(`${(error as Error).message}\n${states.join('\n')}`);
	}
}
