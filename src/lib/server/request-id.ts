// Request ids tie log lines to one request: a well-formed X-Request-ID from the client or proxy is
// kept (so a trace crosses the proxy), anything else is replaced by a fresh UUID.
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function requestIdFrom(header: string | string[] | null | undefined): string {
	const value = Array.isArray(header) ? header[0] : header;
	return value && REQUEST_ID.test(value) ? value : crypto.randomUUID();
}
