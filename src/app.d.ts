import type { IncomingMessage } from 'node:http';
import type { AppContext } from '#lib/server/app-context.ts';
import type { Me } from '#lib/shared/api-types.ts';
import type { SessionRecord } from '#lib/server/services/accounts.ts';

declare global {
	namespace App {
		interface Locals {
			app: AppContext;
			user: Me | null;
			session: SessionRecord | null;
			requestId: string;
			ip: string;
		}
		interface Platform {
			req: IncomingMessage;
		}
		interface Error {
			message: string;
			code?: string;
		}
	}
}

export {};
