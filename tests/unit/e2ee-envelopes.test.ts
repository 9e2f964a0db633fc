import { describe, expect, it } from 'vitest';
import { DecryptionError } from '#lib/client/e2ee/errors.ts';
import { isEncryptedPayload, parseEncryptedPayload, parsePairwiseEnvelope, parseToDeviceContent } from '#lib/client/e2ee/envelopes.ts';

const key32 = 'A'.repeat(43);
const uuid = '11111111-1111-4111-8111-111111111111';
const header = { dh: key32, pn: 0, n: 3 };
const msg = { v: 1, t: 'msg', ik: key32, h: header, c: 'AAAA' };
const prekey = { ...msg, t: 'prekey', ek: key32, spk: 1, otk: 2 };
const sk = { e: 'hearth.sk.v1', dev: uuid, sk: 'A'.repeat(22), i: 0, n: 'A'.repeat(32), c: 'AAAA', sig: 'A'.repeat(86) };
const dm = { e: 'hearth.dm.v1', dev: uuid, n: 'A'.repeat(32), c: 'AAAA', k: { [uuid]: msg } };

describe('envelopes', () => {
	it('parse the documented shapes', () => {
		expect(parsePairwiseEnvelope(JSON.stringify(msg))).toEqual(msg);
		expect(parsePairwiseEnvelope(prekey)).toEqual(prekey);
		expect(parseEncryptedPayload(JSON.stringify(sk))).toEqual(sk);
		expect(parseEncryptedPayload(JSON.stringify(dm))).toEqual(dm);
	});

	it('refuse unknown keys, versions, schemes and malformed values', () => {
		for (const bad of [{ ...msg, extra: 1 }, { ...msg, v: 2 }, { ...msg, h: { ...header, n: -1 } }, { ...msg, ik: 'short' }, { ...prekey, spk: undefined }]) {
			expect(() => parsePairwiseEnvelope(bad)).toThrow(DecryptionError);
		}
		for (const bad of [{ ...sk, e: 'hearth.sk.v2' }, { ...sk, sig: 'x' }, { ...dm, k: { 'not-a-uuid': msg } }, { ...dm, k: { [uuid]: { ...msg, t: 'other' } } }]) {
			expect(() => parseEncryptedPayload(JSON.stringify(bad))).toThrow(DecryptionError);
		}
		expect(() => parseEncryptedPayload('{')).toThrow(DecryptionError);
		expect(() => parseToDeviceContent(JSON.stringify({ kind: 'backup-key', key: key32 }))).toThrow(DecryptionError);
	});

	it('tell encrypted payloads, known or not, from plaintext ones', () => {
		expect(isEncryptedPayload(JSON.stringify(sk))).toBe(true);
		expect(isEncryptedPayload(JSON.stringify(dm))).toBe(true);
		// An unknown scheme is still never shown as text.
		expect(isEncryptedPayload(JSON.stringify({ e: 'hearth.future.v9' }))).toBe(true);
		expect(isEncryptedPayload(JSON.stringify({ v: 1, text: 'legacy plaintext' }))).toBe(false);
		expect(isEncryptedPayload('plain words')).toBe(false);
	});
});
