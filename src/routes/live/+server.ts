// Liveness: the process answers HTTP. Restart it when this fails.
import { json } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = async () => json({ status: 'live' });
