// Turns a validation issue into text that is safe to send back: valibot's messages end with what
// was received ("Invalid UUID: Received \"...\""), which may be a message body or a secret, so that
// part is always cut off. Only the field path and the expectation remain.
import type { BaseIssue } from 'valibot';

export function issueText(issue: BaseIssue<unknown>): string {
	const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
	const message = issue.message.replace(/[,:;]?\s*(but\s+)?received\b[\s\S]*$/i, '').trim() || 'Invalid value';
	return path && !/[.!]$/.test(message) ? `${path}: ${message}` : message;
}
