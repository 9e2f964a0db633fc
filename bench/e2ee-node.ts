// Micro benchmark of the end-to-end encryption core in Node (`node bench/e2ee-node.ts`): per-message
// encrypt + decrypt time for pairwise sessions (Double Ratchet), sender keys and direct messages,
// and the cost of distributing a sender key to a 100-device channel. libsodium runs as WebAssembly
// here as in the browser, so figures are indicative of Chromium (the browser benchmark
// measures there); the machine is shared, so compare runs taken on an idle machine only.
//
// Options: --messages N (per scenario, default 2000), --devices N (distribution fan-out, default 100).
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import type { PrekeyBundle } from '#lib/shared/e2ee.ts';
import { generateIdentityKeyPair, generateOneTimePrekeys, generateSignedPrekey, publicOneTimePrekey, publicSignedPrekey } from '#lib/client/e2ee/device-keys.ts';
import { decryptDmMessage, encryptDmMessage } from '#lib/client/e2ee/dm-message.ts';
import { createMessageContent, encodeMessageContent } from '#lib/client/e2ee/message-content.ts';
import { createInboundSession, createOutboundSession, decryptFromDevice, encryptPairwise, type LocalPrekeys, type PairwiseSession } from '#lib/client/e2ee/pairwise-session.ts';
import { createOutboundSenderKey, decryptWithSenderKey, encryptWithSenderKey, exportSenderKey, importSenderKey } from '#lib/client/e2ee/sender-key.ts';
import { loadSodium, type Sodium } from '#lib/client/e2ee/sodium.ts';
import { Histogram } from './histogram.ts';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '2000' }, devices: { type: 'string', default: '100' } } });
const MESSAGES = Number(values.messages);
const DEVICES = Number(values.devices);
const CHANNEL = '11111111-1111-4111-8111-111111111111';
const ALICE = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const DEVICE = (n: number) => `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;

const sodium: Sodium = await loadSodium();
const content = encodeMessageContent(createMessageContent(sodium, { text: 'A typical chat message of about a hundred characters, with some punctuation, emoji 🎉 and so on.' }));

type Device = { id: string; identity: ReturnType<typeof generateIdentityKeyPair>; local: LocalPrekeys; bundle: PrekeyBundle };
function device(n: number): Device {
	const identity = generateIdentityKeyPair(sodium);
	const signedPrekey = generateSignedPrekey(sodium, identity, 1);
	const [oneTime] = generateOneTimePrekeys(sodium, 1, 1);
	return {
		id: DEVICE(n),
		identity,
		local: { identity, signedPrekey: () => signedPrekey, oneTimePrekey: () => oneTime },
		bundle: { deviceId: DEVICE(n), userId: ALICE, identityKey: identity.publicKey, signedPrekey: publicSignedPrekey(signedPrekey), oneTimePrekey: publicOneTimePrekey(oneTime!) }
	};
}

function time<T>(histogram: Histogram, work: () => T): T {
	const start = performance.now();
	const result = work();
	histogram.record(performance.now() - start);
	return result;
}

function report(name: string, histogram: Histogram) {
	const s = histogram.summary();
	const us = (ms: number) => `${(ms * 1000).toFixed(0)} µs`.padStart(9);
	console.log(`${name.padEnd(52)} n=${String(s.count).padStart(5)} mean ${us(s.mean)} p50 ${us(s.p50)} p99 ${us(s.p99)}`);
}

/** A pairwise session pair past its prekey phase. */
function sessionPair(): { alice: PairwiseSession; bob: PairwiseSession } {
	const a = device(1);
	const b = device(2);
	const outbound = createOutboundSession(sodium, a.identity, b.bundle);
	const first = encryptPairwise(sodium, outbound, 'hello');
	const inbound = createInboundSession(sodium, b.local, first.envelope);
	const reply = encryptPairwise(sodium, inbound.session, 'hi');
	return { alice: decryptFromDevice(sodium, [first.session], reply.envelope, null).session, bob: reply.session };
}

console.log(`Hearth E2EE micro benchmark — Node ${process.version}, libsodium ${sodium.sodium_version_string()}, ${cpus()[0]?.model ?? 'cpu'} ×${cpus().length}`);
console.log(`${MESSAGES} messages per scenario, ${content.length}-character content\n`);

// Warm the JIT and the wasm module before measuring.
for (let i = 0; i < 200; i++) sessionPair();

{
	// One direction: every message continues the same chain (the common case in a burst).
	let { alice, bob } = sessionPair();
	const encrypt = new Histogram();
	const decrypt = new Histogram();
	const both = new Histogram();
	for (let i = 0; i < MESSAGES; i++) {
		const start = performance.now();
		const sent = time(encrypt, () => encryptPairwise(sodium, alice, content));
		alice = sent.session;
		bob = time(decrypt, () => decryptFromDevice(sodium, [bob], sent.envelope, null)).session;
		both.record(performance.now() - start);
	}
	report('ratchet, same chain: encrypt', encrypt);
	report('ratchet, same chain: decrypt', decrypt);
	report('ratchet, same chain: encrypt + decrypt', both);
}
{
	// Ping-pong: every message turns the DH ratchet (one X25519 key pair and two DH per turn).
	let { alice, bob } = sessionPair();
	const both = new Histogram();
	for (let i = 0; i < MESSAGES; i++) {
		const start = performance.now();
		if (i % 2 === 0) {
			const sent = encryptPairwise(sodium, alice, content);
			alice = sent.session;
			bob = decryptFromDevice(sodium, [bob], sent.envelope, null).session;
		} else {
			const sent = encryptPairwise(sodium, bob, content);
			bob = sent.session;
			alice = decryptFromDevice(sodium, [alice], sent.envelope, null).session;
		}
		both.record(performance.now() - start);
	}
	report('ratchet, alternating (DH step each): encrypt + decrypt', both);
}
{
	let outbound = createOutboundSenderKey(sodium, CHANNEL);
	let inbound = importSenderKey(exportSenderKey(outbound), { userId: ALICE, deviceId: DEVICE(1) });
	const encrypt = new Histogram();
	const decrypt = new Histogram();
	const both = new Histogram();
	// Rotation after 1000 messages: measure within one key's life, restarting as the app would.
	for (let i = 0; i < MESSAGES; i++) {
		if (outbound.iteration >= 1000) {
			outbound = createOutboundSenderKey(sodium, CHANNEL);
			inbound = importSenderKey(exportSenderKey(outbound), { userId: ALICE, deviceId: DEVICE(1) });
		}
		const start = performance.now();
		const sent = time(encrypt, () => encryptWithSenderKey(sodium, outbound, { channelId: CHANNEL, deviceId: DEVICE(1) }, content));
		outbound = sent.key;
		inbound = time(decrypt, () => decryptWithSenderKey(sodium, inbound, sent.payload, { channelId: CHANNEL, authorId: ALICE, messageId: `m${i}` })).key;
		both.record(performance.now() - start);
	}
	report('sender key: encrypt (sign)', encrypt);
	report('sender key: decrypt (verify)', decrypt);
	report('sender key: encrypt + decrypt', both);
}
{
	// A DM wrapped for 3 other devices (both participants with two devices each), read by one.
	const sender = device(10);
	const recipients = [device(11), device(12), device(13)];
	let sessions = recipients.map((r) => ({ deviceId: r.id, session: createOutboundSession(sodium, sender.identity, r.bundle) }));
	let reader: PairwiseSession[] = [];
	const both = new Histogram();
	for (let i = 0; i < MESSAGES; i++) {
		const start = performance.now();
		const sent = encryptDmMessage(sodium, { channelId: CHANNEL, senderDeviceId: sender.id, content, recipients: sessions });
		sessions = sent.sessions;
		const read = decryptDmMessage(sodium, { payload: sent.payload, channelId: CHANNEL, ownDeviceId: recipients[0]!.id, sessions: reader, local: recipients[0]!.local });
		reader = [read.session];
		both.record(performance.now() - start);
	}
	report('DM to 3 devices: encrypt + one device decrypts', both);
}
{
	// Sender-key distribution to a channel of DEVICES devices without sessions yet: per device, verify
	// the bundle and run X3DH (new outbound session), then encrypt the `sender-key` plaintext.
	const targets = Array.from({ length: DEVICES }, (_, i) => device(100 + i));
	const sender = device(99);
	const runs = new Histogram();
	const withSessions = new Histogram();
	for (let run = 0; run < 10; run++) {
		const key = createOutboundSenderKey(sodium, CHANNEL);
		const distribution = JSON.stringify(exportSenderKey(key));
		let start = performance.now();
		const established = targets.map((t) => encryptPairwise(sodium, createOutboundSession(sodium, sender.identity, t.bundle), distribution).session);
		runs.record(performance.now() - start);
		// A rotation later: sessions exist, only the encryption per device remains.
		start = performance.now();
		for (const session of established) encryptPairwise(sodium, session, distribution);
		withSessions.record(performance.now() - start);
	}
	const us = (ms: number) => `${ms.toFixed(1)} ms`;
	console.log(`\nsender-key distribution to ${DEVICES} devices (10 runs, whole batch):`);
	console.log(`  new sessions (verify bundle, X3DH, encrypt): mean ${us(runs.summary().mean)} p50 ${us(runs.summary().p50)}`);
	console.log(`  existing sessions (rotation):             mean ${us(withSessions.summary().mean)} p50 ${us(withSessions.summary().p50)}`);
}
