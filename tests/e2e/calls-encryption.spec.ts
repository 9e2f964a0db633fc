// End-to-end encrypted call media, seen from the server. Two people in Chromium (fake camera and
// microphone, real mediasoup worker) and a third participant played by Node with the product's
// E2eeEngine (Dee): she receives the browsers' media keys over pairwise sessions like any
// participant. The server runs with CALL_TEST_TAP_PORT, so every stream it forwards is copied as
// plain RTP to this test: what the SFU holds after SRTP.
//
// - Every forwarded frame carries the SFrame trailer; a VP8 decoder gets no picture from it,
//   while Dee's keys turn the same frame into one it decodes.
// - When Dee leaves, and later when a moderator removes her, the browsers switch to fresh keys:
//   every frame after the switch is under a key id she never got, and her keys (ratcheted as far
//   as a receiver would) do not decrypt it; the browsers keep decrypting each other. Asking a
//   browser for its keys after the removal gets her nothing.
import { expect, test, type Browser, type Page } from '@playwright/test';
import { createTestDatabase, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient, type TestSocket } from '../helpers/clients.ts';
import { CallTapView, type Tap, type TappedFrame } from '../helpers/call-tap.ts';
import { ContextApi, uniqueUsername } from './support.ts';
import { E2eeEngine } from '#lib/client/e2ee/engine.ts';
import { MemoryE2eeStore } from '#lib/client/e2ee/memory-store.ts';
import { E2eeServerApi } from '#lib/client/e2ee/server-api.ts';
import { decryptMediaFrame } from '#lib/shared/call-media/media-frame.ts';
import { InboundMediaKeys, KEY_SWITCH_DELAY_MS } from '#lib/shared/call-media/media-keys.ts';
import type { ServerFrame } from '#lib/shared/protocol/frames.ts';

const noCalls = process.env.HEARTH_E2E_NO_CALLS;
test.skip(!!noCalls, `calls unavailable: ${noCalls}`);
test.use({
	launchOptions: {
		executablePath: process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium',
		args: [
			'--headless',
			'--no-sandbox',
			'--disable-gpu',
			'--no-first-run',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-sync',
			'--use-fake-ui-for-media-stream',
			'--use-fake-device-for-media-stream',
			'--autoplay-policy=no-user-gesture-required'
		]
	}
});
// Two browsers encoding video, a server and this test decrypting on a small shared machine.
test.setTimeout(300_000);

type Captured = TappedFrame;

/** Dee: a call participant in Node, holding the media keys the browsers hand her device. */
class NodeParticipant {
	readonly client: TestClient;
	readonly engine: E2eeEngine;
	socket!: TestSocket;
	callId: string | null = null;
	/** Keys per sending device, for the current stay in the call. */
	keys = new Map<string, InboundMediaKeys>();
	/** Sending device of each peer in the call. */
	readonly devices = new Map<string, string | null>();

	constructor(client: TestClient) {
		this.client = client;
		this.engine = new E2eeEngine({ userId: client.user.id, transport: new E2eeServerApi({ api: client.api }), store: new MemoryE2eeStore(), deviceName: 'Node on Linux' });
	}

	async start(): Promise<void> {
		await this.engine.start();
		this.engine.onCallMediaKeys((received) => {
			if (received.callId !== this.callId) return;
			let keys = this.keys.get(received.senderDeviceId);
			if (!keys) this.keys.set(received.senderDeviceId, (keys = new InboundMediaKeys()));
			for (const grant of received.keys) keys.add(grant);
		});
		this.socket = await this.client.socket();
		this.socket.ws.on('message', (data) => {
			const frame = JSON.parse(data.toString()) as ServerFrame;
			if (frame.t === 'to-device') void this.engine.receiveToDevice(frame.messages);
			if (frame.t === 'call.participant.joined') this.devices.set(frame.participant.peerId, frame.participant.deviceId);
		});
	}

	async join(channelId: string): Promise<void> {
		const answer = await this.socket.request({ t: 'call.join', channelId });
		if (answer.t !== 'ack') throw new Error(`join refused: ${JSON.stringify(answer)}`);
		const joined = answer.result as { callId: string; participants: { peerId: string; deviceId: string | null }[] };
		this.keys = new Map();
		this.callId = joined.callId;
		for (const participant of joined.participants) this.devices.set(participant.peerId, participant.deviceId);
	}

	async leave(): Promise<void> {
		const answer = await this.socket.request({ t: 'call.leave' });
		expect(answer.t).toBe('ack');
	}

	/** The highest key id she holds for that peer's device. */
	newestKid(peerId: string): number {
		const kids = this.keys.get(this.devices.get(peerId) ?? '')?.kids(Date.now()) ?? [];
		return kids.length === 0 ? -1 : Math.max(...kids);
	}

	/** The frame decrypted with her keys (ratcheting forward as any receiver would), or null. */
	async decrypt(captured: Captured): Promise<Uint8Array | null> {
		const keys = this.keys.get(this.devices.get(captured.peerId) ?? '');
		if (!keys) return null;
		return decryptMediaFrame((kid) => keys.keyFor(kid, captured.at), captured.codec, captured.frame).catch(() => null);
	}
}

async function person(browser: Browser, origin: string, name: string, inviteCode?: string) {
	const context = await browser.newContext({ baseURL: origin, viewport: { width: 1280, height: 900 } });
	const api = new ContextApi(context, origin);
	const { user } = await api.signUp(uniqueUsername(name.toLowerCase()), name, inviteCode);
	const page = await context.newPage();
	page.on('console', (message) => {
		if (message.type() === 'warning' || message.type() === 'error') console.log(`[${name}'s browser] ${message.text()}`);
	});
	return { context, api, page, userId: user.id, name };
}

async function joinCall(page: Page, path: string): Promise<string> {
	await page.goto(path);
	await page.getByRole('button', { name: 'Join call' }).click();
	await expect(page.getByRole('region', { name: 'Voice call' })).toContainText('In the call', { timeout: 60_000 });
	return page.url();
}

async function framesDecryptedFrom(page: Page, userId: string): Promise<number> {
	return Number((await page.getByRole('list', { name: 'In the call' }).locator(`li[data-user-id="${userId}"]`).getAttribute('data-frames-decrypted')) ?? 0);
}

/** Decodes one VP8 keyframe with the page's WebCodecs decoder: pictures out, and any error. */
async function decodeVp8(page: Page, frame: Uint8Array): Promise<{ pictures: number; width: number; error: string | null }> {
	return page.evaluate(async (bytes) => {
		const result = { pictures: 0, width: 0, error: null as string | null };
		const decoder = new VideoDecoder({
			output: (picture) => {
				result.pictures += 1;
				result.width = picture.codedWidth;
				picture.close();
			},
			error: (error) => void (result.error = error.message)
		});
		decoder.configure({ codec: 'vp8' });
		decoder.decode(new EncodedVideoChunk({ type: 'key', timestamp: 0, data: new Uint8Array(bytes) }));
		await decoder.flush().catch((error: Error) => void (result.error ??= error.message));
		return result;
	}, [...frame]);
}

test('the server forwards only ciphertext, and after a leave or a removal the one gone cannot decrypt what follows', async ({ browser }) => {
	const view = new CallTapView();
	const tapPort = await view.bind();
	let db: TestDatabase | undefined;
	let server: TestServer | undefined;
	const closers: (() => Promise<unknown>)[] = [];
	try {
		db = await createTestDatabase();
		server = await startServer({ database: db, env: { CALL_TEST_TAP_PORT: String(tapPort), SIGN_UPS_PER_IP_PER_HOUR: '1000' } });
		view.watch(server);

		const ana = await person(browser, server.origin, 'Ana');
		closers.push(() => ana.context.close());
		const community = await ana.api.createCommunity('Private talks');
		const { invite } = await ana.api.send<{ invite: { code: string } }>('POST', `/api/communities/${community.id}/invites`, {});
		const bo = await person(browser, server.origin, 'Bo', invite.code);
		closers.push(() => bo.context.close());
		const { channel } = await ana.api.send<{ channel: { id: string } }>('POST', `/api/communities/${community.id}/channels`, { name: 'private', kind: 'voice' });
		const dee = new NodeParticipant(await TestClient.signUp(server, { inviteCode: invite.code, displayName: 'Dee' }));
		await dee.start();
		closers.push(async () => dee.socket.ws.close());

		// Ana, then Dee, then Bo: every key either browser sends from now on reaches Dee's device.
		const path = `/c/${community.id}/${channel.id}`;
		await joinCall(ana.page, path);
		await dee.join(channel.id);
		await joinCall(bo.page, path);
		for (const { page } of [ana, bo]) {
			await page.getByRole('button', { name: 'Camera', exact: true }).click();
			await expect(page.getByRole('button', { name: 'Stop camera' })).toHaveAttribute('aria-pressed', 'true');
		}
		await expect.poll(() => dee.devices.size, { message: 'Dee knows both browsers in the call' }).toBe(2);
		// Each browser's peer id, from the tap's description of its streams.
		const peerIds = new Map<string, string>();
		await expect.poll(() => server!.logs.filter((l) => l.includes('"call test tap"')).length, { message: 'mic and camera of both tapped' }).toBe(4);
		for (const line of server.logs.filter((l) => l.includes('"call test tap"'))) {
			const tap = (JSON.parse(line) as { tap: Tap }).tap;
			peerIds.set(tap.userId, tap.peerId);
		}

		// --- What the server sees: SFrame ciphertext, every frame -------------------------------------
		for (const sender of [ana, bo]) {
			const peerId = peerIds.get(sender.userId)!;
			for (const kind of ['audio', 'video'] as const) {
				await expect.poll(() => view.fromPeer(peerId, kind).length, { message: `${sender.name}'s ${kind} reaches the tap`, timeout: 30_000 }).toBeGreaterThan(kind === 'audio' ? 100 : 20);
				const frames = view.fromPeer(peerId, kind);
				const clear = frames.filter((f) => f.kid === null).length;
				console.log(`${sender.name}'s ${kind}: ${frames.length} frames through the SFU, ${clear} without an SFrame trailer`);
				expect(clear, `${sender.name}'s ${kind} frames without an SFrame trailer`).toBe(0);
			}
			// With the keys Dee was handed, the same frames decrypt (the tap and the keys are real).
			const recent = view.fromPeer(peerId, 'audio').slice(-20);
			const opened = (await Promise.all(recent.map((f) => dee.decrypt(f)))).filter((f) => f !== null);
			expect(opened.length, `Dee decrypts ${sender.name}'s recent audio`).toBe(recent.length);
			for (const [i, plain] of opened.entries()) expect(Buffer.from(plain).equals(Buffer.from(recent[i]!.frame))).toBe(false);
		}
		// A VP8 decoder gets no picture from a forwarded keyframe; decrypted, the same frame decodes.
		const keyframe = view.fromPeer(peerIds.get(ana.userId)!, 'video').find((f) => (f.frame[0]! & 0x01) === 0);
		expect(keyframe, 'a keyframe of Ana’s camera went through the SFU').toBeDefined();
		const plainKeyframe = await dee.decrypt(keyframe!);
		expect(plainKeyframe, 'Dee decrypts Ana’s keyframe').not.toBeNull();
		const fromCiphertext = await decodeVp8(bo.page, keyframe!.frame);
		const fromPlaintext = await decodeVp8(bo.page, plainKeyframe!);
		console.log(`VP8 decoder on the forwarded keyframe: ${JSON.stringify(fromCiphertext)}; on it decrypted: ${JSON.stringify(fromPlaintext)}`);
		expect(fromPlaintext).toMatchObject({ pictures: 1, error: null });
		expect(fromPlaintext.width).toBeGreaterThan(0);
		expect(fromCiphertext.pictures).toBe(0);

		// --- Dee leaves: the browsers switch to keys she never gets -------------------------------------
		await checkLockedOut('leaves', () => dee.leave());

		// --- Dee comes back (gets keys from then on), and a moderator removes her ---------------------------
		const rejoinedAt = Date.now();
		await dee.join(channel.id);
		for (const sender of [ana, bo]) {
			const peerId = peerIds.get(sender.userId)!;
			await expect
				.poll(async () => (await Promise.all(view.fromPeer(peerId, 'audio', rejoinedAt + 2_000).slice(-10).map((f) => dee.decrypt(f)))).filter((f) => f !== null).length, {
					message: `back in the call, Dee decrypts ${sender.name} again`,
					timeout: 20_000
				})
				.toBe(10);
		}
		await checkLockedOut('is removed by a moderator', async () => {
			const ended = dee.socket.next((f) => f.t === 'call.ended');
			await ana.page.getByRole('button', { name: 'Remove Dee from the call' }).click();
			expect(await ended).toMatchObject({ t: 'call.ended', reason: 'removed', rejoin: false });
		});
		// Asking for the keys after the removal gets her nothing: only devices in the call are answered.
		const anaPeer = peerIds.get(ana.userId)!;
		const heldBefore = dee.newestKid(anaPeer);
		await dee.engine.requestCallMediaKeys(channel.id, dee.callId!, dee.devices.get(anaPeer)!);
		await ana.page.waitForTimeout(3_000);
		expect(dee.newestKid(anaPeer), 'keys Dee holds from Ana after asking, removed').toBe(heldBefore);

		/** After `gone`, every frame sent once the switch delay has passed is under a KID Dee lacks, and stays closed to her. */
		async function checkLockedOut(how: string, gone: () => Promise<void>): Promise<void> {
			const newest = new Map([ana, bo].map((p) => [p.userId, dee.newestKid(peerIds.get(p.userId)!)]));
			const decryptedBefore = await framesDecryptedFrom(ana.page, bo.userId);
			await gone();
			const switched = Date.now() + KEY_SWITCH_DELAY_MS + 1_000;
			for (const sender of [ana, bo]) {
				const peerId = peerIds.get(sender.userId)!;
				for (const kind of ['audio', 'video'] as const) {
					await expect.poll(() => view.fromPeer(peerId, kind, switched).length, { message: `${sender.name}'s ${kind} after Dee ${how}`, timeout: 30_000 }).toBeGreaterThan(kind === 'audio' ? 50 : 10);
					const after = view.fromPeer(peerId, kind, switched);
					expect(after.every((f) => f.kid !== null && f.kid > newest.get(sender.userId)!), `${sender.name}'s ${kind} is under a new key id after Dee ${how}`).toBe(true);
					const opened = (await Promise.all(after.map((f) => dee.decrypt(f)))).filter((f) => f !== null);
					expect(opened.length, `frames of ${sender.name}'s ${kind} Dee decrypts after she ${how}`).toBe(0);
				}
			}
			// The browsers moved to the new keys together: Ana keeps decrypting Bo.
			await expect.poll(() => framesDecryptedFrom(ana.page, bo.userId), { message: `Ana decrypts Bo after Dee ${how}`, timeout: 20_000 }).toBeGreaterThan(decryptedBefore + 100);
		}
	} finally {
		for (const close of closers.reverse()) await close().catch(() => {});
		await server?.stop();
		await db?.drop();
		view.socket.close();
	}
});
