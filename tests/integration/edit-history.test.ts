// Edit history: each edit keeps the version it replaces (still ciphertext to the server), so the
// "edited" marker can show earlier versions, decrypted by the reader's browser. Deleting a message
// erases its history with it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { createCommunity, expectError, joinCommunity, sendMessage, type Community } from '../helpers/fixtures.ts';
import { encodeMessageBody } from '#lib/shared/message-body.ts';
import type { HistoryPage, MessageRevisions } from '#lib/shared/api-types.ts';

const skip = postgresUnavailableReason();

describe.skipIf(skip)('edit history', () => {
	let db: TestDatabase;
	let server: TestServer;
	let author: TestClient;
	let reader: TestClient;
	let community: Community;

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
		author = await TestClient.signUp(server);
		reader = await TestClient.signUp(server);
		community = await createCommunity(author);
		await joinCommunity(author, reader, community.id);
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	const revisions = (client: TestClient, messageId: string) => client.api.get<MessageRevisions>(`/api/messages/${messageId}/revisions`);

	it('keeps each replaced version, oldest first, with when it was written and replaced; readers of the channel see them', async () => {
		const message = await sendMessage(author, community.generalId, 'first');
		const socket = await author.socket();
		expect(await socket.request({ t: 'message.edit', messageId: message.id, payload: encodeMessageBody('second') })).toMatchObject({ t: 'ack' });
		const afterFirstEdit = (await reader.api.get<HistoryPage>(`/api/channels/${community.generalId}/messages`)).messages.find((m) => m.id === message.id)!;
		// A retry of the same edit keeps nothing new.
		expect(await socket.request({ t: 'message.edit', messageId: message.id, payload: encodeMessageBody('second') })).toMatchObject({ t: 'ack', result: { seq: null } });
		await author.api.patch(`/api/messages/${message.id}`, { payload: encodeMessageBody('third') });
		const afterSecondEdit = (await reader.api.get<HistoryPage>(`/api/channels/${community.generalId}/messages`)).messages.find((m) => m.id === message.id)!;
		socket.close();

		expect(await revisions(reader, message.id)).toEqual({
			revisions: [
				{ payload: encodeMessageBody('first'), writtenAt: message.createdAt, replacedAt: afterFirstEdit.editedAt },
				{ payload: encodeMessageBody('second'), writtenAt: afterFirstEdit.editedAt, replacedAt: afterSecondEdit.editedAt }
			],
			current: { payload: encodeMessageBody('third'), writtenAt: afterSecondEdit.editedAt }
		});
	});

	it('an unedited message has no earlier versions', async () => {
		const message = await sendMessage(author, community.generalId, 'as written');
		expect(await revisions(reader, message.id)).toEqual({ revisions: [], current: { payload: encodeMessageBody('as written'), writtenAt: message.createdAt } });
	});

	it('deleting a message erases its history: it answers like a missing message', async () => {
		const message = await sendMessage(author, community.generalId, 'oops');
		await author.api.patch(`/api/messages/${message.id}`, { payload: encodeMessageBody('oops, fixed') });
		expect((await revisions(reader, message.id)).revisions).toHaveLength(1);
		await author.api.delete(`/api/messages/${message.id}`);
		await expectError(reader.fetch(`/api/messages/${message.id}/revisions`), 404, 'not_found', 'Message was not found.');
	});

	it('someone outside the channel cannot read the history', async () => {
		const message = await sendMessage(author, community.generalId, 'members only');
		await author.api.patch(`/api/messages/${message.id}`, { payload: encodeMessageBody('members only!') });
		const stranger = await TestClient.signUp(server);
		await expectError(stranger.fetch(`/api/messages/${message.id}/revisions`), 404, 'not_found', 'Message was not found.');
	});
});
