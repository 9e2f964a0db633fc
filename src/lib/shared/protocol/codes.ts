// Error codes (in `error` frames and JSON error bodies) and WebSocket close codes, shared by both
// sides so the client can react to each one precisely.

export const ErrorCode = {
	badFrame: 'bad_frame',
	invalid: 'invalid',
	unauthenticated: 'unauthenticated',
	forbidden: 'forbidden',
	notFound: 'not_found',
	conflict: 'conflict',
	payloadTooLarge: 'payload_too_large',
	rateLimited: 'rate_limited',
	unavailable: 'unavailable',
	/** The call has CALL_MAX_PARTICIPANTS participants already. */
	callFull: 'call_full',
	/** A call frame from a connection that has not joined a call. */
	notInCall: 'not_in_call',
	/** A moderator removed this person from the call; call.join is refused for a while. */
	removedFromCall: 'removed_from_call',
	/** This session registered its encryption device already (one device per session). */
	deviceExists: 'device_exists',
	/** The request acts as the session's encryption device, and the session has none (or it was removed). */
	deviceRequired: 'device_required',
	/** The recipient device has too many undelivered to-device messages; retry once it caught up. */
	toDeviceQueueFull: 'to_device_queue_full',
	/** The instance requires a second factor of this account, the grace period is over, and it has none. */
	twoFactorRequired: 'two_factor_required',
	internal: 'internal'
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Close codes. 4000-4999 are application-defined; the client decides whether to reconnect by them. */
export const CloseCode = {
	/** Server restarting or shutting down: reconnect. */
	goingAway: 1001,
	/** Frame over the size limit (WebSocket standard code). */
	tooBig: 1009,
	internal: 1011,
	/** No valid session: do not reconnect, sign in again. */
	unauthenticated: 4001,
	/** Session revoked (signed out elsewhere, password changed): do not reconnect. */
	sessionRevoked: 4002,
	/** The instance requires a second factor this account has not set up (grace period over). */
	twoFactorRequired: 4003,
	/** Too many invalid frames or rate-limit violations: reconnect after a pause. */
	policyViolation: 4008,
	/** The client did not read fast enough; it resumes from its cursors on reconnect. */
	slowConsumer: 4009,
	/** Connection caps reached (global, per IP or per account): reconnect later. */
	tooManyConnections: 4010,
	/** Missed heartbeats. */
	heartbeatTimeout: 4011
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Close codes after which reconnecting cannot help until the user signs in again. */
export const TERMINAL_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.unauthenticated, CloseCode.sessionRevoked]);
