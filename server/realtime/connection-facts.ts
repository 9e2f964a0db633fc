// What the database says now about a set of open sockets: which sessions are still valid and
// which communities and DMs their users belong to. The hub compares it with what it holds after
// notices may have been lost (cluster mode: Redis away, a peer died between commit and publish).
import { and, gt, inArray } from 'drizzle-orm';
import type { Database } from '#lib/server/db/open.ts';
import { communityMembers, dmParticipants, sessions } from '#lib/server/db/schema.ts';

// Ids per query (PostgreSQL takes at most 65,535 parameters; smaller chunks keep each query short).
const CHUNK = 1000;

export type ConnectionFacts = {
	liveSessions: Set<string>;
	communitiesOf: Map<string, Set<string>>;
	dmsOf: Map<string, Set<string>>;
};

export async function loadConnectionFacts(db: Database, sessionIds: string[], userIds: string[]): Promise<ConnectionFacts> {
	const facts: ConnectionFacts = { liveSessions: new Set(), communitiesOf: new Map(), dmsOf: new Map() };
	for (let i = 0; i < sessionIds.length; i += CHUNK) {
		const rows = await db
			.select({ id: sessions.id })
			.from(sessions)
			.where(and(inArray(sessions.id, sessionIds.slice(i, i + CHUNK)), gt(sessions.expiresAt, new Date())));
		for (const row of rows) facts.liveSessions.add(row.id);
	}
	for (let i = 0; i < userIds.length; i += CHUNK) {
		const chunk = userIds.slice(i, i + CHUNK);
		const [memberships, dms] = await Promise.all([
			db.select({ userId: communityMembers.userId, id: communityMembers.communityId }).from(communityMembers).where(inArray(communityMembers.userId, chunk)),
			db.select({ userId: dmParticipants.userId, id: dmParticipants.channelId }).from(dmParticipants).where(inArray(dmParticipants.userId, chunk))
		]);
		for (const row of memberships) add(facts.communitiesOf, row.userId, row.id);
		for (const row of dms) add(facts.dmsOf, row.userId, row.id);
	}
	return facts;
}

function add(map: Map<string, Set<string>>, key: string, value: string) {
	const set = map.get(key);
	if (set) set.add(value);
	else map.set(key, new Set([value]));
}
