// Helpers that make each +server.ts read as: auth → parse → service → response.
import type { RequestEvent } from '@sveltejs/kit';
import * as v from 'valibot';
import type { ApiErrorBody, Me } from '#lib/shared/api-types.ts';
import { firstIssue, parseJsonText } from '#lib/shared/validation.ts';
import { AppError, invalid, notFound, payloadTooLarge, unauthenticated } from './errors.ts';
import { safeError } from './logger.ts';
import { readStreamCapped } from './body-limit.ts';

// JSON bodies of this API are small (messages have their own, configurable limit).
const JSON_BODY_MAX_BYTES = 256 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** PostgreSQL text cannot hold U+0000; input containing it is refused before it reaches the database. */
export const NUL_REFUSED = 'Text cannot contain NUL characters.';

export function json(data: unknown, status = 200, headers: Record<string, string> = {}): Response {
	return new Response(JSON.stringify(data), {
		status,
		headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers }
	});
}

export function errorResponse(status: number, code: string, message: string, retryAfterMs?: number): Response {
	const body: ApiErrorBody = { error: { code, message } };
	const headers: Record<string, string> = {};
	if (retryAfterMs !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
	return json(body, status, headers);
}

/** Wraps a handler: domain errors become JSON error bodies; anything else is logged and a 500. */
export function endpoint<E extends RequestEvent>(handler: (event: E) => Promise<Response>) {
	return async (event: E): Promise<Response> => {
		try {
			return await handler(event);
		} catch (error) {
			if (error instanceof AppError) return errorResponse(error.status, error.code, error.message, error.retryAfterMs);
			event.locals.app.log.error({ err: safeError(error), requestId: event.locals.requestId, route: event.route.id }, 'request failed');
			return errorResponse(500, 'internal', 'Something went wrong on the server.');
		}
	};
}

export function requireUser(event: RequestEvent): Me {
	if (!event.locals.user) throw unauthenticated();
	return event.locals.user;
}

/** A route parameter that must be a UUID; anything else is simply not found. */
export function idParam(event: RequestEvent, name: string, what = 'That'): string {
	const value = event.params[name as keyof typeof event.params] as string | undefined;
	if (!value || !UUID.test(value)) throw notFound(what);
	return value.toLowerCase();
}

/** `maxBytes`: a larger bound for the few bodies that carry batches of ciphertext (to-device, key backup entries). */
export async function readBody<S extends v.GenericSchema>(event: RequestEvent, schema: S, maxBytes = JSON_BODY_MAX_BYTES): Promise<v.InferOutput<S>> {
	const type = event.request.headers.get('content-type') ?? '';
	if (!type.toLowerCase().startsWith('application/json')) throw invalid('Send the request body as application/json.');
	const length = Number(event.request.headers.get('content-length') ?? '0');
	if (length > maxBytes) throw payloadTooLarge('The request body is too large.');
	const text = new TextDecoder().decode(await readBytesCapped(event, maxBytes, () => payloadTooLarge('The request body is too large.')));
	const parsed = parseJsonText(text);
	if (!parsed.ok) throw invalid('The request body is not valid JSON.');
	if (parsed.hasNul) throw invalid(NUL_REFUSED);
	const result = v.safeParse(schema, parsed.value);
	if (!result.success) throw invalid(firstIssue(result.issues));
	return result.output;
}

/** The request body (any type), bounded like readStreamCapped. Also for chunked bodies (no Content-Length): the adapter's BODY_SIZE_LIMIT is as large as the largest attachment. */
export function readBytesCapped(event: RequestEvent, maxBytes: number, tooLarge: () => Error): Promise<Uint8Array> {
	return readStreamCapped(event.request.body, maxBytes, tooLarge);
}

/** An integer query parameter within bounds, or undefined when absent. */
export function intQuery(event: RequestEvent, name: string, min: number, max: number): number | undefined {
	const raw = event.url.searchParams.get(name);
	if (raw === null || raw === '') return undefined;
	if (!/^\d+$/.test(raw)) throw invalid(`${name} must be a whole number.`);
	const value = Number(raw);
	if (value < min || value > max) throw invalid(`${name} must be between ${min} and ${max}.`);
	return value;
}

/** An ISO timestamp query parameter, or undefined when absent. */
export function timeQuery(event: RequestEvent, name: string): Date | undefined {
	const raw = event.url.searchParams.get(name);
	if (raw === null || raw === '') return undefined;
	const value = new Date(raw);
	if (!/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(value.getTime())) throw invalid(`${name} must be a date and time such as 2026-01-31T12:00:00Z.`);
	return value;
}

/** A UUID query parameter, or undefined when absent. */
export function idQuery(event: RequestEvent, name: string): string | undefined {
	const raw = event.url.searchParams.get(name);
	if (raw === null || raw === '') return undefined;
	if (!UUID.test(raw)) throw invalid(`${name} must be a user id.`);
	return raw.toLowerCase();
}

// Audit pages: enough to read a busy day at once, small enough to stay quick.
const AUDIT_PAGE_DEFAULT = 100;
const AUDIT_PAGE_MAX = 500;

/** The audit log's filters from the query string: actor, action, target, since, until, before, limit. */
export function auditFilter(event: RequestEvent) {
	const action = event.url.searchParams.get('action') || undefined;
	if (action !== undefined && !/^[a-z_.]{1,64}$/.test(action)) throw invalid('action must be an action name such as member.banned.');
	return {
		actorId: idQuery(event, 'actor'),
		targetUserId: idQuery(event, 'target'),
		action,
		since: timeQuery(event, 'since'),
		until: timeQuery(event, 'until'),
		before: timeQuery(event, 'before'),
		limit: intQuery(event, 'limit', 1, AUDIT_PAGE_MAX) ?? AUDIT_PAGE_DEFAULT
	};
}
