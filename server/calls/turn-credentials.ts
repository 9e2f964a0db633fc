// ICE servers for a call participant, with TURN credentials in coturn's use-auth-secret scheme
// (draft-uberti-behave-turn-rest): username "<expiry unix seconds>:<user id>", password
// base64(HMAC-SHA1(secret, username)). coturn checks the HMAC with the same static-auth-secret and
// refuses the credential once the expiry has passed, so nothing is stored and nothing to revoke.
import { createHmac } from 'node:crypto';
import type { CallsConfig } from '#lib/server/config/config.ts';

export type IceServer = { urls: string[]; username?: string; credential?: string };

export function turnCredential(secret: string, userId: string, expiresAtSeconds: number): { username: string; credential: string } {
	const username = `${expiresAtSeconds}:${userId}`;
	const credential = createHmac('sha1', secret).update(username).digest('base64');
	return { username, credential };
}

export function iceServersFor(config: Pick<CallsConfig, 'stunUrls' | 'turnUrls' | 'turnSecret' | 'turnTtlSeconds'>, userId: string, nowMs = Date.now()): IceServer[] {
	const servers: IceServer[] = [];
	if (config.stunUrls.length > 0) servers.push({ urls: config.stunUrls });
	if (config.turnUrls.length > 0 && config.turnSecret) {
		const expiresAt = Math.floor(nowMs / 1000) + config.turnTtlSeconds;
		servers.push({ urls: config.turnUrls, ...turnCredential(config.turnSecret, userId, expiresAt) });
	}
	return servers;
}
