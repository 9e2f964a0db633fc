// Blocking: one person stops another from reaching them. The blocked person's direct messages are
// refused (both ways: a conversation needs both), their mentions neither count nor push, and the
// blocker's apps collapse their messages. Nothing is told to the blocked person until they try to
// write a direct message, which must fail visibly rather than vanish.
import { and, asc, eq } from 'drizzle-orm';
import type { UserView } from '#lib/shared/protocol/frames.ts';
import type { Database } from '../db/open.ts';
import { userBlocks, users } from '../db/schema.ts';
import { invalid, notFound } from '../errors.ts';

export class Blocks {
	#db: Database;

	constructor(deps: { db: Database }) {
		this.#db = deps.db;
	}

	/** The people this user blocked, in the order they were blocked. */
	async list(userId: string): Promise<UserView[]> {
		return this.#db
			.select({ id: users.id, username: users.username, displayName: users.displayName })
			.from(userBlocks)
			.innerJoin(users, eq(users.id, userBlocks.blockedId))
			.where(eq(userBlocks.blockerId, userId))
			.orderBy(asc(userBlocks.createdAt));
	}

	/** Blocks someone (again: no change). */
	async block(userId: string, targetId: string): Promise<void> {
		if (targetId === userId) throw invalid('You cannot block yourself.');
		const [target] = await this.#db.select({ id: users.id }).from(users).where(eq(users.id, targetId));
		if (!target) throw notFound('User');
		await this.#db.insert(userBlocks).values({ blockerId: userId, blockedId: targetId }).onConflictDoNothing();
	}

	/** Unblocks someone (not blocked: no change). */
	async unblock(userId: string, targetId: string): Promise<void> {
		await this.#db.delete(userBlocks).where(and(eq(userBlocks.blockerId, userId), eq(userBlocks.blockedId, targetId)));
	}
}
