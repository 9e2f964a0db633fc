// How the key stores turn a value into bytes and back: JSON, with Uint8Array as a tagged base64url
// string. Both stores (IndexedDB with encryption at rest, and the in-memory one used in tests) go
// through this, so a value that would not survive the real store fails in the tests as well.
//
// Why not structured clone: the IndexedDB store encrypts every value, and browsers offer no
// structured-clone serializer to bytes. The engine's state is JSON plus key bytes, so that is
// what is supported; anything else (Map, Set, Date, other typed arrays, undefined in arrays)
// is refused loudly instead of coming back changed.
import { fromB64, fromUtf8, toB64, utf8 } from './encoding.ts';

/** A property name the engine never uses (it starts with NUL), marking encoded bytes. */
const BYTES_TAG = '\u0000bytes';

export class UnsupportedValueError extends Error {
	override name = 'UnsupportedValueError';
}

export function encodeStoreValue(value: unknown): Uint8Array {
	if (value === undefined) throw new UnsupportedValueError('undefined cannot be stored; delete the entry instead.');
	const json = JSON.stringify(value, function (this: unknown, key: string, replaced: unknown) {
		const original = (this as Record<string, unknown>)[key];
		if (original instanceof Uint8Array) return { [BYTES_TAG]: toB64(original) };
		if (
			original instanceof Date ||
			original instanceof Map ||
			original instanceof Set ||
			ArrayBuffer.isView(original) ||
			original instanceof ArrayBuffer ||
			typeof original === 'bigint' ||
			typeof original === 'function' ||
			typeof original === 'symbol' ||
			(original === undefined && Array.isArray(this))
		) {
			throw new UnsupportedValueError(`The key store holds JSON and Uint8Array only (at "${key}").`);
		}
		if (typeof original === 'number' && !Number.isFinite(original)) {
			throw new UnsupportedValueError(`The key store cannot hold ${original} (at "${key}").`);
		}
		if (replaced !== null && typeof replaced === 'object' && !Array.isArray(replaced) && BYTES_TAG in replaced) {
			throw new UnsupportedValueError('A stored object cannot use the reserved bytes tag as a property name.');
		}
		return replaced;
	});
	return utf8(json);
}

export function decodeStoreValue<T>(bytes: Uint8Array): T {
	return JSON.parse(fromUtf8(bytes), (_key, value: unknown) => {
		if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
			const tagged = (value as Record<string, unknown>)[BYTES_TAG];
			if (typeof tagged === 'string' && Object.keys(value).length === 1) return fromB64(tagged);
		}
		return value;
	}) as T;
}
