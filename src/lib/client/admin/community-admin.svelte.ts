// The community settings page: members with their roles and moderation actions, custom roles,
// bans, the report queue, channels (order, slow mode, archive) and the audit log. Each action calls
// the API and reports the outcome; the server decides what is allowed, the page only hides what the
// caller's permissions (from the community view) rule out.
import type { AuditEntryView, BanView, CustomRoleView, MemberView, ReportView } from '#lib/shared/api-types.ts';
import type { ChannelView } from '#lib/shared/protocol/frames.ts';
import { ROLE_RANK, type ChannelOverrides, type ChannelPermission, type CommunityRole, type Permission } from '#lib/shared/permissions.ts';
import type { ApiClient } from '../api.ts';
import { toasts } from '../app/toasts.svelte.ts';

export const TIMEOUT_CHOICES = [
	{ minutes: 10, label: '10 minutes' },
	{ minutes: 60, label: '1 hour' },
	{ minutes: 24 * 60, label: '1 day' },
	{ minutes: 7 * 24 * 60, label: '1 week' }
] as const;

export const BAN_EXPIRY_CHOICES = [
	{ hours: null, label: 'Until lifted' },
	{ hours: 24, label: '1 day' },
	{ hours: 7 * 24, label: '1 week' },
	{ hours: 30 * 24, label: '30 days' }
] as const;

export const SLOW_MODE_CHOICES = [
	{ seconds: 0, label: 'Off' },
	{ seconds: 5, label: '5 seconds' },
	{ seconds: 30, label: '30 seconds' },
	{ seconds: 60, label: '1 minute' },
	{ seconds: 300, label: '5 minutes' },
	{ seconds: 3600, label: '1 hour' }
] as const;

/** Who may post in a channel, as the page offers it (a view over the channel's overrides). */
export const POSTING_LEVELS = [
	{ value: 'everyone', label: 'Everyone can post' },
	{ value: 'moderators', label: 'Moderators and up' },
	{ value: 'admins', label: 'Admins only' }
] as const;
export type PostingLevel = (typeof POSTING_LEVELS)[number]['value'];

export function postingLevel(channel: ChannelView): PostingLevel {
	const denied = (role: string) => channel.permissionOverrides[role]?.deny.includes('send_messages') ?? false;
	if (denied('moderator')) return 'admins';
	if (denied('member')) return 'moderators';
	return 'everyone';
}

/** The channel's overrides with "send" denied to the roles below the level, the rest kept. */
function withPostingLevel(channel: ChannelView, level: PostingLevel): ChannelOverrides {
	const overrides: ChannelOverrides = {};
	for (const [key, value] of Object.entries(channel.permissionOverrides)) {
		overrides[key] = { allow: value.allow as ChannelPermission[], deny: value.deny as ChannelPermission[] };
	}
	const deniedTo = new Set(level === 'admins' ? ['moderator', 'member'] : level === 'moderators' ? ['member'] : []);
	for (const role of ['moderator', 'member']) {
		const current = overrides[role] ?? { allow: [], deny: [] };
		const deny: ChannelPermission[] = current.deny.filter((p) => p !== 'send_messages');
		const allow: ChannelPermission[] = current.allow.filter((p) => p !== 'send_messages');
		if (deniedTo.has(role)) deny.push('send_messages');
		if (deny.length || allow.length) overrides[role] = { allow, deny };
		else delete overrides[role];
	}
	return overrides;
}

export type AuditFilters = { action: string; actorId: string };

export class CommunityAdmin {
	readonly communityId: string;
	members = $state<MemberView[]>([]);
	roles = $state<CustomRoleView[]>([]);
	bans = $state<BanView[]>([]);
	reports = $state<ReportView[]>([]);
	channels = $state<ChannelView[]>([]);
	audit = $state<AuditEntryView[]>([]);
	auditFilters = $state<AuditFilters>({ action: '', actorId: '' });
	busy = $state(false);
	#api: ApiClient;

	constructor(api: ApiClient, communityId: string) {
		this.#api = api;
		this.communityId = communityId;
	}

	#path(suffix: string) {
		return `/api/communities/${this.communityId}${suffix}`;
	}

	/** Loads the sections the caller may see (the others would only answer 403). */
	async load(permissions: readonly Permission[]): Promise<void> {
		const has = (p: Permission) => permissions.includes(p);
		await Promise.all([
			this.loadMembers(),
			this.loadRoles(),
			has('ban') ? this.loadBans() : null,
			has('delete_messages') ? this.loadReports() : null,
			has('manage_channels') ? this.loadChannels() : null,
			has('view_audit_log') ? this.loadAudit() : null
		]).catch((error) => toasts.error(error));
	}

	async loadMembers() {
		this.members = (await this.#api.get<{ members: MemberView[] }>(this.#path('/members'))).members;
	}
	async loadRoles() {
		this.roles = (await this.#api.get<{ roles: CustomRoleView[] }>(this.#path('/roles'))).roles;
	}
	async loadBans() {
		this.bans = (await this.#api.get<{ bans: BanView[] }>(this.#path('/bans'))).bans;
	}
	async loadReports() {
		this.reports = (await this.#api.get<{ reports: ReportView[] }>(this.#path('/reports?status=open'))).reports;
	}
	async loadChannels() {
		this.channels = (await this.#api.get<{ channels: ChannelView[] }>(this.#path('/channels'))).channels;
	}
	async loadAudit() {
		const query = new URLSearchParams();
		if (this.auditFilters.action) query.set('action', this.auditFilters.action);
		if (this.auditFilters.actorId) query.set('actor', this.auditFilters.actorId);
		const suffix = query.size ? `?${query}` : '';
		this.audit = (await this.#api.get<{ entries: AuditEntryView[] }>(this.#path(`/audit-log${suffix}`))).entries;
	}

	/** Runs one action: busy while it runs, a toast either way, then reloads what it changed. */
	async #act(work: () => Promise<unknown>, done: string, reload: Array<() => Promise<void>>): Promise<boolean> {
		this.busy = true;
		try {
			await work();
			toasts.show(done, 'success');
			await Promise.all(reload.map((r) => r().catch(() => {})));
			return true;
		} catch (error) {
			toasts.error(error);
			return false;
		} finally {
			this.busy = false;
		}
	}

	#afterModeration(): Array<() => Promise<void>> {
		return [() => this.loadMembers(), () => this.loadBans(), () => this.loadAudit()];
	}

	kick(member: MemberView, reason: string) {
		return this.#act(() => this.#api.post(this.#path(`/members/${member.user.id}/kick`), { reason }), `${member.user.displayName} was removed.`, this.#afterModeration());
	}

	ban(member: MemberView, reason: string, expiresInHours: number | null) {
		return this.#act(
			() => this.#api.post(this.#path('/bans'), { userId: member.user.id, reason, expiresInHours }),
			`${member.user.displayName} was banned.`,
			this.#afterModeration()
		);
	}

	unban(ban: BanView) {
		return this.#act(() => this.#api.delete(this.#path(`/bans/${ban.user.id}`)), `The ban on ${ban.user.displayName} was lifted.`, this.#afterModeration());
	}

	timeout(member: MemberView, minutes: number, reason: string) {
		return this.#act(
			() => this.#api.post(this.#path(`/members/${member.user.id}/timeout`), { minutes, reason }),
			minutes > 0 ? `${member.user.displayName} is timed out.` : `${member.user.displayName}'s timeout ended.`,
			this.#afterModeration()
		);
	}

	setRole(member: MemberView, change: { role?: CommunityRole; customRoleId?: string | null }) {
		return this.#act(() => this.#api.patch(this.#path(`/members/${member.user.id}`), change), `${member.user.displayName}'s role was changed.`, [
			() => this.loadMembers(),
			() => this.loadRoles(),
			() => this.loadAudit()
		]);
	}

	createRole(name: string, permissions: Permission[]) {
		return this.#act(() => this.#api.post(this.#path('/roles'), { name, permissions }), `Role "${name}" created.`, [() => this.loadRoles(), () => this.loadAudit()]);
	}

	updateRole(role: CustomRoleView, permissions: Permission[]) {
		return this.#act(() => this.#api.patch(this.#path(`/roles/${role.id}`), { permissions }), `Role "${role.name}" saved.`, [() => this.loadRoles(), () => this.loadAudit()]);
	}

	deleteRole(role: CustomRoleView) {
		return this.#act(() => this.#api.delete(this.#path(`/roles/${role.id}`)), `Role "${role.name}" deleted.`, [
			() => this.loadRoles(),
			() => this.loadMembers(),
			() => this.loadAudit()
		]);
	}

	resolveReport(report: ReportView, status: 'resolved' | 'dismissed', deleteMessage: boolean) {
		return this.#act(
			() => this.#api.post(`/api/reports/${report.id}/resolve`, { status, deleteMessage }),
			status === 'resolved' ? 'Report resolved.' : 'Report dismissed.',
			[() => this.loadReports(), () => this.loadAudit()]
		);
	}

	setPostingLevel(channel: ChannelView, level: PostingLevel) {
		return this.updateChannel(channel, { permissionOverrides: withPostingLevel(channel, level) });
	}

	updateChannel(channel: ChannelView, change: { slowModeSeconds?: number; archived?: boolean; permissionOverrides?: ChannelOverrides }) {
		return this.#act(() => this.#api.patch(`/api/channels/${channel.id}`, change), `#${channel.name} saved.`, [() => this.loadChannels(), () => this.loadAudit()]);
	}

	moveChannel(channel: ChannelView, by: -1 | 1) {
		const ids = this.channels.map((c) => c.id);
		const from = ids.indexOf(channel.id);
		const to = from + by;
		if (from < 0 || to < 0 || to >= ids.length) return Promise.resolve(false);
		[ids[from], ids[to]] = [ids[to]!, ids[from]!];
		return this.#act(() => this.#api.put(this.#path('/channels/order'), { channelIds: ids }), 'Channel order saved.', [() => this.loadChannels(), () => this.loadAudit()]);
	}
}

/** Whether the caller's role can act on this member at all (the server checks it again). */
export function canModerate(myRole: CommunityRole, myId: string, member: MemberView): boolean {
	if (member.user.id === myId || member.role === 'owner') return false;
	return member.role === 'member' || ROLE_RANK[myRole] > ROLE_RANK[member.role];
}
