// Invite codes. A community invite lets a signed-in user join the community and, on an invite-only
// server, lets a visitor sign up (joining at once). An instance invite (no community) only admits a
// sign-up. Codes can be limited in uses and time, and revoked.
import { and, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { InstanceInviteView, InvitePreview, InviteRedemptionView, InviteView } from '#lib/shared/api-types.ts';
import type { Database, Transaction } from '../db/open.ts';
import { communities, communityMembers, instanceSettings, inviteRedemptions, invites, users } from '../db/schema.ts';
import { accessCommunity, missingPermission, requireFullAccount, requireInstanceAdmin } from '../access.ts';
import { recordAudit } from './audit-log.ts';
import { BANNED_MESSAGE, isBanned } from './communities.ts';
import { forbidden, invalid, notFound } from '../errors.ts';
import { generateInviteCode } from '../auth/tokens.ts';
import type { Communities } from './communities.ts';

type InviteRow = typeof invites.$inferSelect;
type Actor = { id: string; instanceRole: 'owner' | 'admin' | 'member' };

function toView(row: InviteRow): InviteView {
	return {
		code: row.code,
		communityId: row.communityId,
		createdBy: row.createdBy,
		maxUses: row.maxUses,
		uses: row.uses,
		expiresAt: row.expiresAt ? row.expiresAt.toISOString() : null,
		revoked: row.revokedAt !== null,
		createdAt: row.createdAt.toISOString()
	};
}

/** Why an invite cannot be used, or null when it can. */
function unusableReason(row: InviteRow, now = Date.now()): string | null {
	if (row.revokedAt) return 'This invite was revoked.';
	if (row.expiresAt && row.expiresAt.getTime() <= now) return 'This invite has expired.';
	if (row.maxUses !== null && row.uses >= row.maxUses) return 'This invite has been used up.';
	return null;
}

/** Records who used an invite; in the transaction that counted the use, so both commit or neither. */
export async function recordRedemption(tx: Transaction, code: string, userId: string): Promise<void> {
	await tx.insert(inviteRedemptions).values({ id: crypto.randomUUID(), code, userId });
}

export class Invites {
	#db: Database;
	#communities: () => Communities;

	constructor(deps: { db: Database; communities: () => Communities }) {
		this.#db = deps.db;
		this.#communities = deps.communities;
	}

	/** Any member may invite people to a community; instance invites are for instance admins. */
	async create(actor: Actor & { guest: boolean }, input: { communityId: string | null; maxUses: number | null; expiresInHours: number | null }): Promise<InviteView> {
		requireFullAccount(actor);
		if (input.communityId) await accessCommunity(this.#db, actor.id, input.communityId);
		else requireInstanceAdmin(actor);
		const row = await this.#db.transaction(async (tx) => {
			const [created] = await tx
				.insert(invites)
				.values({
					code: generateInviteCode(),
					communityId: input.communityId,
					createdBy: actor.id,
					maxUses: input.maxUses,
					expiresAt: input.expiresInHours ? new Date(Date.now() + input.expiresInHours * 3_600_000) : null
				})
				.returning();
			// Server invites admit new accounts: an instance-level action worth recording.
			if (!input.communityId) {
				await recordAudit(tx, { communityId: null, actorId: actor.id, action: 'invite.created', targetId: created!.code, data: { maxUses: input.maxUses, expiresInHours: input.expiresInHours } });
			}
			return created!;
		});
		return toView(row);
	}

	/** Members with "manage invites" see every invite of the community; others see their own. */
	async listForCommunity(actor: Actor, communityId: string): Promise<InviteView[]> {
		const access = await accessCommunity(this.#db, actor.id, communityId);
		const manager = access.permissions.has('manage_invites');
		const rows = await this.#db
			.select()
			.from(invites)
			.where(and(eq(invites.communityId, communityId), manager ? undefined : eq(invites.createdBy, actor.id)))
			.orderBy(desc(invites.createdAt));
		return rows.map(toView);
	}

	/** Every instance invite with who used it: two queries whatever the number of invites. */
	async listInstance(actor: Actor): Promise<InstanceInviteView[]> {
		requireInstanceAdmin(actor);
		const rows = await this.#db.select().from(invites).where(isNull(invites.communityId)).orderBy(desc(invites.createdAt));
		const byCode = new Map<string, InviteRedemptionView[]>(rows.map((row) => [row.code, []]));
		if (rows.length > 0) {
			const used = await this.#db
				.select({ code: inviteRedemptions.code, redeemedAt: inviteRedemptions.redeemedAt, id: users.id, username: users.username, displayName: users.displayName })
				.from(inviteRedemptions)
				.leftJoin(users, eq(users.id, inviteRedemptions.userId))
				.where(inArray(inviteRedemptions.code, [...byCode.keys()]))
				.orderBy(desc(inviteRedemptions.redeemedAt));
			for (const r of used) {
				byCode.get(r.code)?.push({
					user: r.id && r.username && r.displayName ? { id: r.id, username: r.username, displayName: r.displayName } : null,
					redeemedAt: r.redeemedAt.toISOString()
				});
			}
		}
		return rows.map((row) => ({ ...toView(row), redemptions: byCode.get(row.code) ?? [] }));
	}

	/** The creator, community members with "manage invites", or instance admins may revoke an invite. */
	async revoke(actor: Actor, code: string): Promise<void> {
		const [row] = await this.#db.select().from(invites).where(eq(invites.code, code));
		if (!row) throw notFound('Invite');
		if (row.createdBy !== actor.id) {
			if (row.communityId) {
				let access;
				try {
					access = await accessCommunity(this.#db, actor.id, row.communityId);
				} catch {
					throw notFound('Invite');
				}
				if (!access.permissions.has('manage_invites')) throw missingPermission('manage_invites');
			} else {
				try {
					requireInstanceAdmin(actor);
				} catch {
					throw notFound('Invite');
				}
			}
		}
		await this.#db.transaction(async (tx) => {
			await tx.update(invites).set({ revokedAt: new Date() }).where(eq(invites.code, code));
			if (row.createdBy !== actor.id || !row.communityId) {
				await recordAudit(tx, { communityId: row.communityId, actorId: actor.id, action: 'invite.revoked', targetUserId: row.createdBy, targetId: code });
			}
		});
	}

	/** What an invite link shows before anyone signs in: the community's name, nothing private. */
	async preview(code: string): Promise<InvitePreview> {
		const [settings] = await this.#db.select({ name: instanceSettings.instanceName, guestAccess: instanceSettings.guestAccess }).from(instanceSettings);
		const instanceName = settings?.name ?? 'Hearth';
		const [row] = await this.#db.select().from(invites).where(eq(invites.code, code));
		if (!row) return { code, valid: false, reason: 'This invite does not exist.', community: null, instanceName, guestAccess: false };
		let community: InvitePreview['community'] = null;
		if (row.communityId) {
			const [c] = await this.#db
				.select({
					id: communities.id,
					name: communities.name,
					description: communities.description,
					memberCount: sql<number>`(select count(*)::int from ${communityMembers} where ${communityMembers.communityId} = ${communities.id})`
				})
				.from(communities)
				.where(eq(communities.id, row.communityId));
			community = c ?? null;
		}
		const reason = unusableReason(row);
		// Guests join a community: an instance invite (sign-up only) never offers it.
		const guestAccess = (settings?.guestAccess ?? false) && community !== null;
		return { code, valid: reason === null, reason, community, instanceName, guestAccess };
	}

	/** A signed-in user accepts a community invite. Joining a community one is in already uses nothing. */
	async accept(userId: string, code: string): Promise<{ communityId: string; joined: boolean }> {
		const communityId = await this.#db.transaction(async (tx) => {
			const [row] = await tx.select().from(invites).where(eq(invites.code, code)).for('update');
			if (!row) throw notFound('Invite');
			if (!row.communityId) throw invalid('This invite is for signing up, not for joining a community.');
			const [already] = await tx
				.select({ userId: communityMembers.userId })
				.from(communityMembers)
				.where(and(eq(communityMembers.communityId, row.communityId), eq(communityMembers.userId, userId)));
			if (already) return { id: row.communityId, alreadyMember: true };
			if (await isBanned(tx, row.communityId, userId)) throw forbidden(BANNED_MESSAGE);
			const reason = unusableReason(row);
			if (reason) throw invalid(reason);
			await tx.update(invites).set({ uses: row.uses + 1 }).where(eq(invites.code, code));
			await recordRedemption(tx, code, userId);
			return { id: row.communityId, alreadyMember: false };
		});
		if (communityId.alreadyMember) return { communityId: communityId.id, joined: false };
		const joined = await this.#communities().join(userId, communityId.id);
		return { communityId: communityId.id, joined };
	}

	/**
	 * Inside the sign-up transaction: checks and uses one use of the code. The caller records the
	 * redemption once the account row exists (recordRedemption), in the same transaction.
	 */
	async consumeForSignUp(tx: Transaction, code: string): Promise<InviteRow> {
		const [row] = await tx.select().from(invites).where(eq(invites.code, code)).for('update');
		if (!row) throw invalid('That invite code does not exist.');
		const reason = unusableReason(row);
		if (reason) throw invalid(reason);
		await tx.update(invites).set({ uses: row.uses + 1 }).where(eq(invites.code, code));
		return row;
	}
}
