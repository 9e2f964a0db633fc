// An encryption device in Node: the product's E2eeEngine over a memory store and the product's
// E2eeServerApi speaking the real REST API with a signed-in test client's cookies and CSRF token.
import { E2eeEngine } from '#lib/client/e2ee/engine.ts';
import { MemoryE2eeStore } from '#lib/client/e2ee/memory-store.ts';
import { E2eeServerApi } from '#lib/client/e2ee/server-api.ts';
import type { TestClient } from './clients.ts';

export type TestDevice = { client: TestClient; engine: E2eeEngine; store: MemoryE2eeStore };

/** A started device (registered, prekeys published) for a signed-in client. */
export async function startDevice(client: TestClient, name = 'Node on Linux'): Promise<TestDevice> {
	const store = new MemoryE2eeStore();
	const engine = new E2eeEngine({ userId: client.user.id, transport: new E2eeServerApi({ api: client.api }), store, deviceName: name });
	await engine.start();
	return { client, engine, store };
}
