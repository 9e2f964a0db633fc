// Structured JSON logs. Children carry ids (request, connection, user) as fields; message payloads,
// passwords, tokens and cookies are never logged — the redaction list is a safety net, not a license.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
	return pino(
		{
			level,
			base: { service: 'hearth' },
			redact: {
				paths: [
					'password',
					'*.password',
					'token',
					'*.token',
					'payload',
					'*.payload',
					'cookie',
					'*.cookie',
					'headers.cookie',
					'*.headers.cookie',
					'authorization',
					'*.authorization'
				],
				censor: '[redacted]'
			},
			timestamp: pino.stdTimeFunctions.isoTime
		},
		destination
	);
}

/**
 * A loggable summary of an error. Database errors from drizzle embed the query parameters in their
 * message (message bodies, password hashes), so only the SQL text before "params:" and the
 * driver's error code are kept.
 */
export function safeError(error: unknown): { name: string; message: string; code?: string } {
	if (!(error instanceof Error)) return { name: 'NonError', message: typeof error };
	const cause = (error as { cause?: unknown }).cause;
	const code = (error as { code?: unknown }).code ?? (cause as { code?: unknown } | undefined)?.code;
	const message = error.message.split(/\nparams:/)[0]!.slice(0, 500);
	const causeMessage = cause instanceof Error ? ` (${cause.message.split('\n')[0]!.slice(0, 200)})` : '';
	return { name: error.name, message: message + causeMessage, ...(typeof code === 'string' ? { code } : {}) };
}
