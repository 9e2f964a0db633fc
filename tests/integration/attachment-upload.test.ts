// The client's attachment path against the real server: a file encrypted by encryptAndUpload is
// stored as ciphertext and decrypts back for another member; a client that does not know the limit
// (or knows an old one) gets the server's 413, which the UI words plainly. The browser's own
// refusal before upload is in tests/e2e/attachments.spec.ts; the server's counting while the body
// streams in is tested in e2ee-server.test.ts.
import sodium from 'libsodium-wrappers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { withSql } from '../helpers/database.ts';
import { createCommunity, joinCommunity, type Community } from '../helpers/fixtures.ts';
import { E2eeServerApi } from '#lib/client/e2ee/server-api.ts';
import { ApiError } from '#lib/client/api.ts';
import { encryptedSize } from '#lib/client/e2ee/attachment-crypto.ts';
import { downloadAndDecrypt, encryptAndUpload, uploadErrorMessage, type AttachmentSource, type CiphertextUploader } from '#lib/client/e2ee/attachment-transfer.ts';

const skip = postgresUnavailableReason();
/** Small, so over-limit files are cheap; two chunks and a bit fit. */
const LIMIT = 150_000;

function file(bytes: Uint8Array, name: string): AttachmentSource {
	return { name, type: 'application/octet-stream', size: bytes.length, stream: () => new Blob([bytes as Uint8Array<ArrayBuffer>]).stream() };
}

describe.skipIf(skip)('encrypted attachments from the client to the server and back', () => {
	let db: TestDatabase;
	let server: TestServer;
	let alice: TestClient;
	let bob: TestClient;
	let community: Community;
	const transportOf = (client: TestClient) => new E2eeServerApi({ api: client.api, baseUrl: server.url, fetch: (input, init) => client.fetch(String(input), init) });
	/** What a client that does not know the limit sends (it does not pass maxBytes). */
	const uploaderOf = (client: TestClient): CiphertextUploader => async (channelId, ciphertext) => transportOf(client).uploadAttachment(channelId, ciphertext);

	beforeAll(async () => {
		await sodium.ready;
		db = await createTestDatabase();
		server = await startServer({ database: db, env: { ATTACHMENT_MAX_BYTES: String(LIMIT) } });
		alice = await TestClient.signUp(server);
		bob = await TestClient.signUp(server);
		community = await createCommunity(alice);
		await joinCommunity(alice, bob, community.id);
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	it('stores only ciphertext, which another member downloads and decrypts to the same bytes', async () => {
		const plaintext = new Uint8Array(120_000).map((_, i) => i % 251);
		plaintext.set(new TextEncoder().encode('attachment-canary'), 5);
		const ref = await encryptAndUpload(sodium, file(plaintext, 'scan.bin'), { channelId: community.generalId, upload: uploaderOf(alice), maxBytes: LIMIT });
		await withSql(server, async (sql) => {
			const [row] = (await sql('select size, data from attachments where id = $1', [ref.id])) as { size: number; data: Uint8Array }[];
			expect(row!.size).toBe(encryptedSize(plaintext.length));
			expect(Buffer.from(row!.data).includes(Buffer.from('attachment-canary'))).toBe(false);
		});
		const back = await downloadAndDecrypt(sodium, ref, (id) => transportOf(bob).downloadAttachment(id));
		expect(new Uint8Array(await back.arrayBuffer())).toEqual(plaintext);
	});

	it('gets the server’s 413 when the file’s ciphertext is over the limit the client did not know', async () => {
		const big = new Uint8Array(LIMIT); // its ciphertext is LIMIT + 3 tags
		const error = await encryptAndUpload(sodium, file(big, 'too-big.bin'), { channelId: community.generalId, upload: uploaderOf(alice) }).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(ApiError);
		expect((error as ApiError).status).toBe(413);
		expect(uploadErrorMessage(error, 'too-big.bin')).toBe(`“too-big.bin” is too large for this server. Attachments can be at most ${LIMIT} bytes (encrypted) on this server.`);
		await withSql(server, async (sql) => {
			expect(await sql('select count(*)::int as n from attachments where size > $1', [LIMIT])).toEqual([{ n: 0 }]);
		});
	});

	it('refuses the same file before sending a byte when the client knows the limit', async () => {
		let uploads = 0;
		const counting: CiphertextUploader = async (...args) => {
			uploads += 1;
			return uploaderOf(alice)(...args);
		};
		await expect(encryptAndUpload(sodium, file(new Uint8Array(LIMIT), 'too-big.bin'), { channelId: community.generalId, upload: counting, maxBytes: LIMIT })).rejects.toMatchObject({
			status: 413,
			message: expect.stringMatching(/^“too-big\.bin” is too large to send/)
		});
		expect(uploads).toBe(0);
	});
});
