// Where to go after signing in: only a path on this site. Anything else (another origin, a
// protocol-relative "//host", a backslash trick browsers normalise to "//") falls back to home, so
// a crafted ?next= link cannot send someone to a look-alike site right after they typed a password.
export function safeNextPath(raw: string | null | undefined, fallback = '/'): string {
	if (!raw || raw.length > 2000) return fallback;
	if (!raw.startsWith('/') || raw.startsWith('//') || raw.includes('\\')) return fallback;
	// Control characters can make a browser read the path differently than we do.
	if (/[\u0000-\u001f\u007f]/.test(raw)) return fallback;
	return raw;
}

/** The sign-in address that comes back to `path` afterwards. */
export function signInPath(path: string): string {
	const next = safeNextPath(path, '');
	return next && next !== '/' ? `/sign-in?next=${encodeURIComponent(next)}` : '/sign-in';
}
