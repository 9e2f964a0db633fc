// The plaintext structure inside an opaque message payload. Only clients read it: the server stores
// and relays the payload without parsing it (it becomes ciphertext with end-to-end encryption).
export const MESSAGE_TEXT_MAX_CHARS = 4000;

export type MessageBody = { v: 1; text: string };

export function encodeMessageBody(text: string): string {
	return JSON.stringify({ v: 1, text } satisfies MessageBody);
}

/** Returns null when the payload is not a body this client understands. */
export function decodeMessageBody(payload: string): MessageBody | null {
	try {
		const data = JSON.parse(payload) as unknown;
		if (typeof data === 'object' && data !== null && (data as MessageBody).v === 1 && typeof (data as MessageBody).text === 'string') {
			return { v: 1, text: (data as MessageBody).text };
		}
	} catch {
		// fall through
	}
	return null;
}

export function utf8Length(text: string): number {
	return new TextEncoder().encode(text).length;
}
