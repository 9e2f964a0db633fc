import { describe, expect, it } from 'vitest';
import { safeNextPath, signInPath } from '#lib/shared/next-path.ts';

describe('safeNextPath', () => {
	it('keeps a path on this site, with its query', () => {
		expect(safeNextPath('/c/1/2?x=1')).toBe('/c/1/2?x=1');
	});

	it('refuses anything that could lead to another site', () => {
		for (const raw of ['https://evil.example', '//evil.example', '/\\evil.example', 'evil', '/\t/evil.example', '']) {
			expect(safeNextPath(raw), raw).toBe('/');
		}
		expect(safeNextPath(null)).toBe('/');
	});
});

describe('signInPath', () => {
	it('comes back to where the person was', () => {
		expect(signInPath('/invite/Abc12345')).toBe('/sign-in?next=%2Finvite%2FAbc12345');
		expect(signInPath('/')).toBe('/sign-in');
	});
});
