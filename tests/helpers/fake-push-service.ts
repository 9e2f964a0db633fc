// A push service on 127.0.0.1 for tests: it records what the server sends, checks the VAPID JWT
// (RFC 8292) and decrypts the aes128gcm body (RFC 8188 / RFC 8291) with the subscription keys a
// test browser generated, written here from the RFCs rather than with the library the server uses.
import { createECDH, createDecipheriv, createPublicKey, hkdfSync, verify, type ECDH } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export type ReceivedPush = { path: string; headers: IncomingHttpHeaders; body: Buffer };

/** A browser's side of a subscription: its P-256 key pair and auth secret. */
export type TestSubscriber = { ecdh: ECDH; auth: Buffer; keys: { p256dh: string; auth: string } };

export function newSubscriber(): TestSubscriber {
	const ecdh = createECDH('prime256v1');
	ecdh.generateKeys();
	const auth = Buffer.from(crypto.getRandomValues(new Uint8Array(16)));
	return { ecdh, auth, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } };
}

/** RFC 8291: the plaintext of an aes128gcm push body for this subscriber. Throws when it does not authenticate. */
export function decryptPush(body: Buffer, subscriber: TestSubscriber): string {
	const salt = body.subarray(0, 16);
	const recordSize = body.readUInt32BE(16);
	const idLength = body[20]!;
	const serverPublic = body.subarray(21, 21 + idLength);
	const records = body.subarray(21 + idLength);
	if (records.length > recordSize) throw new Error('more than one record');
	const shared = subscriber.ecdh.computeSecret(serverPublic);
	const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), subscriber.ecdh.getPublicKey(), serverPublic]);
	const ikm = Buffer.from(hkdfSync('sha256', shared, subscriber.auth, keyInfo, 32));
	const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
	const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
	const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
	decipher.setAuthTag(records.subarray(records.length - 16));
	const padded = Buffer.concat([decipher.update(records.subarray(0, records.length - 16)), decipher.final()]);
	// The last record ends with the delimiter 0x02, then zero padding.
	let end = padded.length - 1;
	while (end >= 0 && padded[end] === 0) end--;
	if (padded[end] !== 2) throw new Error('no last-record delimiter');
	return padded.subarray(0, end).toString('utf8');
}

/** RFC 8292: checks the `vapid t=…, k=…` authorization and returns the JWT's claims. */
export function verifyVapid(authorization: string | undefined): { aud: string; exp: number; sub: string; publicKey: string } {
	const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization ?? '');
	if (!match) throw new Error(`not a vapid authorization: ${authorization}`);
	const [header, claims, signature] = match[1]!.split('.');
	const publicKey = Buffer.from(match[2]!, 'base64url');
	const key = createPublicKey({
		key: { kty: 'EC', crv: 'P-256', x: publicKey.subarray(1, 33).toString('base64url'), y: publicKey.subarray(33, 65).toString('base64url') },
		format: 'jwk'
	});
	if (JSON.parse(Buffer.from(header!, 'base64url').toString()).alg !== 'ES256') throw new Error('not ES256');
	const ok = verify('sha256', Buffer.from(`${header}.${claims}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature!, 'base64url'));
	if (!ok) throw new Error('the VAPID signature does not verify');
	return { ...(JSON.parse(Buffer.from(claims!, 'base64url').toString()) as { aud: string; exp: number; sub: string }), publicKey: match[2]! };
}

export class FakePushService {
	received: ReceivedPush[] = [];
	/** Status to answer per path (default 201). */
	statusFor = new Map<string, number>();
	#server: Server;
	port = 0;

	constructor() {
		this.#server = createServer((req, res) => {
			const chunks: Buffer[] = [];
			req.on('data', (chunk: Buffer) => chunks.push(chunk));
			req.on('end', () => {
				const path = req.url ?? '/';
				this.received.push({ path, headers: req.headers, body: Buffer.concat(chunks) });
				res.writeHead(this.statusFor.get(path) ?? 201).end();
			});
		});
	}

	/** Listens on 127.0.0.1 (`port` 0: any free one). */
	async start(port = 0): Promise<void> {
		await new Promise<void>((resolve, reject) => {
			this.#server.once('error', reject);
			this.#server.listen(port, '127.0.0.1', resolve);
		});
		this.port = (this.#server.address() as { port: number }).port;
	}

	endpoint(path: string): string {
		return `http://127.0.0.1:${this.port}${path}`;
	}

	/** Waits until `count` pushes reached `path`, and returns them. */
	async waitFor(path: string, count = 1, timeoutMs = 5000): Promise<ReceivedPush[]> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const got = this.received.filter((r) => r.path === path);
			if (got.length >= count) return got;
			if (Date.now() > deadline) throw new Error(`${got.length} of ${count} pushes to ${path} within ${timeoutMs} ms`);
			await new Promise((r) => setTimeout(r, 25));
		}
	}

	/** Proves a negative: no push to `path` for a while (after the server committed the message). */
	async noneFor(path: string, ms = 600): Promise<void> {
		const before = this.received.filter((r) => r.path === path).length;
		await new Promise((r) => setTimeout(r, ms));
		const after = this.received.filter((r) => r.path === path).length;
		if (after !== before) throw new Error(`${after - before} unexpected push(es) to ${path}`);
	}

	stop(): Promise<void> {
		return new Promise((resolve) => this.#server.close(() => resolve()));
	}
}
