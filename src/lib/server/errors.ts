// Typed failures of the domain layer. Each carries the HTTP status and the wire error code it maps
// to, so REST endpoints and /ws handlers report it the same way.
import { ErrorCode } from '#lib/shared/protocol/codes.ts';

// The companion server loads this module natively while SvelteKit bundles its own copy; a brand on
// a registered symbol keeps `instanceof AppError` true across both copies.
const BRAND = Symbol.for('hearth.AppError');

export class AppError extends Error {
	readonly status: number;
	readonly code: ErrorCode;
	readonly retryAfterMs: number | undefined;

	constructor(status: number, code: ErrorCode, message: string, retryAfterMs?: number) {
		super(message);
		this.name = 'AppError';
		this.status = status;
		this.code = code;
		this.retryAfterMs = retryAfterMs;
		(this as unknown as Record<symbol, boolean>)[BRAND] = true;
	}

	static [Symbol.hasInstance](value: unknown): boolean {
		return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
	}
}

export const invalid = (message: string) => new AppError(400, ErrorCode.invalid, message);
export const unauthenticated = (message = 'Sign in to continue.') => new AppError(401, ErrorCode.unauthenticated, message);
export const forbidden = (message = 'You are not allowed to do that.') => new AppError(403, ErrorCode.forbidden, message);
/** Also used for resources the caller may not see: another user's resource answers like a missing one. */
export const notFound = (what = 'That') => new AppError(404, ErrorCode.notFound, `${what} was not found.`);
export const conflict = (message: string) => new AppError(409, ErrorCode.conflict, message);
export const payloadTooLarge = (message: string) => new AppError(413, ErrorCode.payloadTooLarge, message);
export const rateLimited = (retryAfterMs: number, message = 'Too many attempts. Try again later.') =>
	new AppError(429, ErrorCode.rateLimited, message, retryAfterMs);
/** The server cannot do this as configured (the reason says what the administrator must change). */
export const unavailable = (message: string) => new AppError(503, ErrorCode.unavailable, message);
