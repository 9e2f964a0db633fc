// Custom community emoji: those who manage a community upload small PNG, GIF or WebP pictures under
// a name; members list them and load the pictures (served like the instance icon, privately);
// SVG, also disguised as PNG, oversized pictures, bad names, duplicates and a 51st emoji are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustomEmojiList, CustomEmojiView } from '#lib/shared/custom-emoji.ts';
import { CUSTOM_EMOJI_PER_COMMUNITY_MAX } from '#lib/shared/custom-emoji.ts';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { createCommunity, expectError, expectJson, joinCommunity, MISSING_ID, type Community } from '../helpers/fixtures.ts';

const skip = postgresUnavailableReason();

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const GIF = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(200, 7)]);
const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>');
const TYPE_REFUSED = 'An emoji must be a PNG, GIF or WebP image.';

describe.skipIf(skip)('custom community emoji', () => {
	let db: TestDatabase;
	let server: TestServer;
	let owner: TestClient;
	let member: TestClient;
	let stranger: TestClient;
	let community: Community;

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
		owner = await TestClient.signUp(server);
		member = await TestClient.signUp(server);
		stranger = await TestClient.signUp(server);
		community = await createCommunity(owner);
		await joinCommunity(owner, member, community.id);
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	async function upload(client: TestClient, name: string, bytes: Buffer, contentType = 'image/png', communityId = community.id): Promise<Response> {
		const token = await client.csrfToken();
		return client.fetch(`/api/communities/${communityId}/emoji?name=${encodeURIComponent(name)}`, {
			method: 'POST',
			headers: { 'content-type': contentType, 'x-csrf-token': token },
			body: new Uint8Array(bytes)
		});
	}
	const list = (client: TestClient) => client.api.get<CustomEmojiList>(`/api/communities/${community.id}/emoji`);

	it('an owner adds a PNG and an animated GIF: members list them and load the pictures with an ETag and long private caching', async () => {
		const watcher = await member.socket();
		const { emoji: parrot } = await expectJson<{ emoji: CustomEmojiView }>(upload(owner, 'party_parrot', GIF, 'image/png'), 201);
		expect(parrot).toEqual({ id: expect.any(String), name: 'party_parrot', url: expect.stringMatching(new RegExp(`^/api/communities/${community.id}/emoji/[0-9a-f-]{36}\\?v=[0-9a-f]{20}$`)) });
		// Members' sidebars refetch the community (and so its emoji).
		await watcher.waitFor((f) => f.t === 'directory.changed' && f.reason === 'community.updated' && f.communityId === community.id);
		await expectJson(upload(owner, 'blob_ok', PNG), 201);
		expect((await list(member)).emoji.map((e) => e.name)).toEqual(['blob_ok', 'party_parrot']);
		expect((await list(member)).max).toBe(CUSTOM_EMOJI_PER_COMMUNITY_MAX);

		const picture = await member.fetch(parrot.url);
		expect(picture.status).toBe(200);
		// The type comes from the bytes, not from what the uploader said.
		expect(picture.headers.get('content-type')).toBe('image/gif');
		expect(picture.headers.get('x-content-type-options')).toBe('nosniff');
		expect(picture.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
		expect(Buffer.from(await picture.arrayBuffer()).equals(GIF)).toBe(true);
		const etag = picture.headers.get('etag')!;
		const again = await member.fetch(parrot.url.split('?')[0]!, { headers: { 'if-none-match': etag } });
		expect(again.status).toBe(304);
		watcher.close();
	});

	it('refuses SVG (also disguised as PNG), JPEG, pictures over 256 KB, bad or taken names, members without "Manage community", and strangers', async () => {
		await expectError(upload(owner, 'evil', SVG, 'image/svg+xml'), 400, 'invalid', TYPE_REFUSED);
		await expectError(upload(owner, 'evil', SVG, 'image/png'), 400, 'invalid', TYPE_REFUSED);
		await expectError(upload(owner, 'photo', JPEG, 'image/jpeg'), 400, 'invalid', TYPE_REFUSED);
		await expectError(upload(owner, 'huge', Buffer.concat([PNG, Buffer.alloc(256 * 1024 + 1 - PNG.length)])), 413, 'payload_too_large', 'An emoji can be at most 256 KB.');
		await expectJson(upload(owner, 'exactly_max', Buffer.concat([PNG, Buffer.alloc(256 * 1024 - PNG.length)])), 201);
		for (const name of ['a', 'Upper', 'has space', 'dash-ed', 'x'.repeat(33), '']) {
			await expectError(upload(owner, name, PNG), 400, 'invalid', 'Emoji names are 2-32 lower-case letters, digits or underscores.');
		}
		await expectJson(upload(owner, 'twice', PNG), 201);
		await expectError(upload(owner, 'twice', PNG), 409, 'conflict', 'This community already has an emoji called :twice:.');
		await expectError(upload(member, 'sneaky', PNG), 403, 'forbidden', 'You need the "Manage community" permission in this community to do that.');
		await expectError(upload(stranger, 'sneaky', PNG), 404, 'not_found', 'Community was not found.');
		await expectError(upload(stranger, 'sneaky', PNG, 'image/png', MISSING_ID), 404, 'not_found', 'Community was not found.');
		const [first] = (await list(owner)).emoji;
		await expectError(stranger.fetch(first!.url), 404, 'not_found', 'Community was not found.');
		await expectError(stranger.fetch(`/api/communities/${community.id}/emoji`), 404, 'not_found', 'Community was not found.');
		expect((await list(owner)).emoji.map((e) => e.name)).not.toContain('sneaky');
	});

	it('allows at most 50 per community, and removing one (audited) makes room again', async () => {
		const other = await createCommunity(owner, 'Emoji limit');
		const token = await owner.csrfToken();
		const add = (name: string) =>
			owner.fetch(`/api/communities/${other.id}/emoji?name=${name}`, { method: 'POST', headers: { 'content-type': 'image/png', 'x-csrf-token': token }, body: new Uint8Array(PNG) });
		for (let i = 0; i < CUSTOM_EMOJI_PER_COMMUNITY_MAX; i++) await expectJson(add(`e${i}`), 201);
		await expectError(add('one_more'), 409, 'conflict', `A community can have at most ${CUSTOM_EMOJI_PER_COMMUNITY_MAX} emoji. Remove one first.`);
		const { emoji } = await owner.api.get<CustomEmojiList>(`/api/communities/${other.id}/emoji`);
		await expectError(member.send('DELETE', `/api/communities/${other.id}/emoji/${emoji[0]!.id}`), 404, 'not_found', 'Community was not found.');
		expect((await owner.send('DELETE', `/api/communities/${other.id}/emoji/${emoji[0]!.id}`)).status).toBe(204);
		await expectError(owner.send('DELETE', `/api/communities/${other.id}/emoji/${emoji[0]!.id}`), 404, 'not_found', 'Emoji was not found.');
		// An emoji of another community is not found through this one.
		const [mine] = (await list(owner)).emoji;
		await expectError(owner.fetch(`/api/communities/${other.id}/emoji/${mine!.id}`), 404, 'not_found', 'Emoji was not found.');
		await expectJson(add('one_more'), 201);
		const { entries } = await owner.api.get<{ entries: { action: string; data: Record<string, unknown> }[] }>(`/api/communities/${other.id}/audit-log?action=community.emoji_removed`);
		expect(entries.map((e) => e.data)).toEqual([{ name: emoji[0]!.name }]);
	});
});
