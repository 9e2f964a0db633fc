// docs/encryption.md promises that every claim matches the code. These checks hold it to the parts a
// machine can check: the limits and lifetimes it quotes are the code's constants, the labels and
// contexts it names occur in the e2ee sources, and every module it cites exists.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ONE_TIME_PREKEYS_LOW_WATER, ONE_TIME_PREKEYS_PER_UPLOAD, SIGNED_PREKEY_CONTEXT } from '#lib/shared/e2ee.ts';
import { ARGON2ID_MODERATE } from '#lib/client/e2ee/argon2id.ts';
import { ATTACHMENT_CHUNK_BYTES } from '#lib/client/e2ee/attachment-crypto.ts';
import { SIGNED_PREKEY_RETENTION_MS, SIGNED_PREKEY_ROTATION_MS } from '#lib/client/e2ee/device-keys.ts';
import { MAX_SKIP, MAX_SKIPPED_KEYS } from '#lib/client/e2ee/double-ratchet.ts';
import { SAFETY_NUMBER_ITERATIONS } from '#lib/client/e2ee/safety-number.ts';
import { KEY_SWITCH_DELAY_MS, PREVIOUS_KEY_GRACE_MS, RATCHET_WINDOW } from '#lib/shared/call-media/media-keys.ts';
import { SENDER_KEY_MAX_FORWARD, SENDER_KEY_ROTATE_AFTER_MESSAGES, SENDER_KEY_ROTATE_AFTER_MS } from '#lib/client/e2ee/sender-key.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const doc = readFileSync(join(ROOT, 'docs/encryption.md'), 'utf8');
const DAY = 24 * 3600_000;

function filesUnder(dir: string): string[] {
	return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
		.filter((entry) => entry.isFile())
		.map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}
const sources = [...filesUnder('src'), 'vite.config.ts', ...filesUnder('tests/integration')];
const e2eeSource = [...filesUnder('src/lib/client/e2ee'), ...filesUnder('src/lib/shared/call-media'), 'src/lib/shared/e2ee.ts'].map((file) => readFileSync(join(ROOT, file), 'utf8')).join('\n');

/**
 * Modules of the encryption engine, trust and key-backup manager, which land with their own
 * branches (helper/engine, helper/trust). Once merged, this list must be emptied: from then on a
 * missing one fails like any other.
 */
const LANDING_WITH_OTHER_BRANCHES = new Set<string>();

describe('docs/encryption.md', () => {
	it('quotes the limits and lifetimes the code uses', () => {
		expect(doc).toContain(`MAX_SKIP = ${MAX_SKIP}`);
		expect(doc).toContain(`MAX_SKIPPED_KEYS = ${MAX_SKIPPED_KEYS}`);
		expect(doc).toContain(`SENDER_KEY_MAX_FORWARD = ${SENDER_KEY_MAX_FORWARD}`);
		expect(SENDER_KEY_ROTATE_AFTER_MESSAGES).toBe(1000);
		expect(SENDER_KEY_ROTATE_AFTER_MS).toBe(7 * DAY);
		expect(doc).toContain('after 1000 messages, or after 7 days');
		expect(SIGNED_PREKEY_ROTATION_MS).toBe(7 * DAY);
		expect(SIGNED_PREKEY_RETENTION_MS).toBe(30 * DAY);
		expect(doc).toContain('replaced every 7 days (`SIGNED_PREKEY_ROTATION_MS`)');
		expect(doc).toContain('30 days more for prekey messages still in flight (`SIGNED_PREKEY_RETENTION_MS`)');
		expect(ONE_TIME_PREKEYS_PER_UPLOAD).toBe(100);
		expect(doc).toContain(`fewer than ${ONE_TIME_PREKEYS_LOW_WATER} (\`ONE_TIME_PREKEYS_LOW_WATER\`)`);
		expect(ARGON2ID_MODERATE).toEqual({ opsLimit: 3, memLimit: 256 * 1024 * 1024 });
		expect(doc).toContain('MODERATE: 3 passes, 256 MiB, 16-byte random salt');
		expect(ATTACHMENT_CHUNK_BYTES).toBe(64 * 1024);
		expect(doc).toContain('over 64 KiB plaintext chunks');
		expect(doc).toContain(`${SAFETY_NUMBER_ITERATIONS} iterations of SHA-512`);
		expect(doc).toContain(`utf8("${SIGNED_PREKEY_CONTEXT}")`);
		expect(doc).toContain(`KEY_SWITCH_DELAY_MS = ${KEY_SWITCH_DELAY_MS}`);
		expect(doc).toContain(`PREVIOUS_KEY_GRACE_MS = ${PREVIOUS_KEY_GRACE_MS}`);
		expect(doc).toContain(`RATCHET_WINDOW = ${RATCHET_WINDOW}`);
	});

	it('names only labels and contexts that the e2ee sources use', () => {
		const labels = [...doc.matchAll(/"(hearth[.:][\w.:-]+)"/g), ...doc.matchAll(/`(hearth:[\w.:-]+)`/g)].map((m) => m[1]!);
		expect(labels.length).toBeGreaterThan(5);
		for (const label of new Set(labels)) expect(e2eeSource, label).toContain(`'${label}'`);
	});

	it('cites modules that exist', () => {
		const cited = new Set([...doc.matchAll(/`([\w./-]+\.ts)`/g)].map((m) => m[1]!));
		expect(cited.size).toBeGreaterThan(15);
		for (const module of cited) {
			if (LANDING_WITH_OTHER_BRANCHES.has(module)) continue;
			const found = module.includes('/') ? existsSync(join(ROOT, module)) : sources.some((file) => file.endsWith(`/${module}`) || file === module);
			expect(found, module).toBe(true);
		}
	});
});
