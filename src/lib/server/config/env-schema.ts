// Parsers for environment variables. Each returns the typed value or throws an Error whose message
// names the problem (SvelteKit and the companion server both report it and refuse to start).

export function integer(name: string, fallback: number, min: number, max: number) {
	return (raw: string | undefined): number => {
		if (raw === undefined || raw.trim() === '') return fallback;
		if (!/^-?\d+$/.test(raw.trim())) throw new Error(`${name} must be a whole number, got "${raw}"`);
		const value = Number(raw.trim());
		if (value < min || value > max) throw new Error(`${name} must be between ${min} and ${max}, got ${value}`);
		return value;
	};
}

/** Like integer(), but unset (or empty) stays undefined: for a setting whose default is computed. */
export function optionalInteger(name: string, min: number, max: number) {
	const parse = integer(name, 0, min, max);
	return (raw: string | undefined): number | undefined => (raw === undefined || raw.trim() === '' ? undefined : parse(raw));
}

export function oneOf<const T extends string>(name: string, values: readonly T[], fallback: T) {
	return (raw: string | undefined): T => {
		if (raw === undefined || raw.trim() === '') return fallback;
		const value = raw.trim() as T;
		if (!values.includes(value)) throw new Error(`${name} must be one of ${values.join(', ')}, got "${raw}"`);
		return value;
	};
}

export function flag(name: string, fallback = false) {
	return (raw: string | undefined): boolean => {
		const value = raw?.trim().toLowerCase();
		if (value === undefined || value === '') return fallback;
		if (value === 'true' || value === '1') return true;
		if (value === 'false' || value === '0') return false;
		throw new Error(`${name} must be true or false, got "${raw}"`);
	};
}

export function optionalString(raw: string | undefined): string | undefined {
	const value = raw?.trim();
	return value ? value : undefined;
}

export function stringWithDefault(fallback: string) {
	return (raw: string | undefined): string => optionalString(raw) ?? fallback;
}

/** An origin such as https://chat.example.com (scheme, host, optional port; no path). */
export function parseOrigin(name: string, raw: string): string {
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		throw new Error(`${name} must be an origin like https://chat.example.com, got "${raw}"`);
	}
	if (url.protocol !== 'http:' && url.protocol !== 'https:') {
		throw new Error(`${name} must use http or https, got "${raw}"`);
	}
	if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
		throw new Error(`${name} must be an origin without path, query or credentials, got "${raw}"`);
	}
	return url.origin;
}

export function originList(name: string) {
	return (raw: string | undefined): string[] => {
		const items = (raw ?? '')
			.split(',')
			.map((item) => item.trim())
			.filter(Boolean);
		return items.map((item) => {
			if (item === '*') throw new Error(`${name} must list origins explicitly; "*" is not allowed`);
			return parseOrigin(name, item);
		});
	};
}

export function postgresUrl(raw: string | undefined): string | undefined {
	const value = optionalString(raw);
	if (value === undefined) return undefined;
	if (!/^postgres(ql)?:\/\//.test(value)) {
		throw new Error('DATABASE_URL must start with postgres:// or postgresql://');
	}
	return value;
}

/** A redis:// or rediss:// URL (Valkey or Redis); its password, if any, is never shown. */
export function redisUrl(raw: string | undefined): string | undefined {
	const value = optionalString(raw);
	if (value === undefined) return undefined;
	let url: URL;
	try {
		url = new URL(value);
	} catch {
		throw new Error('REDIS_URL must be a URL like redis://valkey:6379 (the value is not shown: it may hold a password)');
	}
	if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error('REDIS_URL must start with redis:// or rediss://');
	return value;
}

/** A node's name in a cluster: letters, digits, dot, dash and underscore (it is part of Redis keys and logs). */
export function nodeId(raw: string | undefined): string | undefined {
	const value = optionalString(raw);
	if (value === undefined) return undefined;
	if (!/^[A-Za-z0-9._-]{1,64}$/.test(value)) throw new Error(`NODE_ID must be 1 to 64 letters, digits, dots, dashes or underscores, got "${raw}"`);
	return value;
}
