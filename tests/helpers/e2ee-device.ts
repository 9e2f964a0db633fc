// An encryption device in Node: the product's E2eeEngine over a memory store and the product's
// E2eeServerApi speaking the real REST API with a signed-in test client's cookies and CSRF token.
import { E2eeEngine } from '#lib/client/e2ee/engine.ts';
import { MemoryE2eeStore } from '#lib/client/e2ee/memory-store.ts';
import { E2eeServerApi } from '#lib/client/e2ee/server-api.ts';
import { expect } from 'vitest';
import { encodeDraft } from '#lib/client/e2ee/message-codec.svelte.ts';
import type { MessageView } from '#lib/shared/protocol/frames.ts';
import type { TestClient } from './clients.ts';
import { newClientId } from './fixtures.ts';

export type TestDevice = { client: TestClient; engine: E2eeEngine; store: MemoryE2eeStore };

/** A started device (registered, prekeys published) for a signed-in client. */
export async function startDevice(client: TestClient, name = 'Node on Linux'): Promise<TestDevice> {
	const store = new MemoryE2eeStore();
	const engine = new E2eeEngine({ userId: client.user.id, transport: new E2eeServerApi({ api: client.api }), store, deviceName: name });
	await engine.start();
	return { client, engine, store };
}

/** Seals a text message on this device and posts it (REST); the payload never holds the text. */
export async function sendSealed(device: TestDevice, channelId: string, text: string, direct = false): Promise<MessageView> {
	const payload = await device.engine.seal(channelId, encodeDraft(text), { direct });
	expect(payload).not.toContain(text);
	const { message } = await device.client.api.post<{ message: MessageView }>(`/api/channels/${channelId}/messages`, { clientId: newClientId(), payload });
	return message;
}

/** What a device shows for a message after taking in its to-device queue: the text, or the view's state. */
export async function readAs(device: TestDevice, message: MessageView): Promise<string> {
	await device.engine.syncToDevice();
	const view = await device.engine.open(message);
	return view.state === 'ok' ? view.content.text : view.state;
}
