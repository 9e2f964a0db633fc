// The sidebar's data: the user's communities with their channels, the direct-message channels, and
// per channel the read marker and unread count. Loaded over REST, then kept current from live
// events (counting unread messages) and `directory.changed` hints (refetching what changed).
import type { CommunityDetail, CommunityView, InviteView } from '#lib/shared/api-types.ts';
import type { Permission } from '#lib/shared/permissions.ts';
import type { ChannelEvent, ChannelView, ServerFrameOf } from '#lib/shared/protocol/frames.ts';
import type { ApiClient } from '../api.ts';
import { knownProfiles } from './known-profiles.svelte.ts';
import { namesUser } from '#lib/shared/mentions.ts';

export type CommunityPermissions = {
	/** Create, rename and edit channels. */
	manage: boolean;
	/** Delete anyone's messages. */
	deleteOthers: boolean;
	/** Any staff permission: the community settings page has something for them. */
	settings: boolean;
	/** Delete the community; the owner cannot leave it. */
	own: boolean;
	/** Pin and unpin messages in the community's channels. */
	pin: boolean;
	/** Mute someone in a call (the server asks for "Time out members"). */
	muteInCall: boolean;
	/** Remove someone from a call (the server asks for "Kick members"). */
	removeFromCall: boolean;
	/** Use @everyone and @here (the server checks "Mention everyone" again). */
	mentionEveryone: boolean;
};

// Permissions that make the community settings page useful (everyone else only sees its member list).
const STAFF_PERMISSIONS: readonly Permission[] = ['manage_channels', 'manage_roles', 'kick', 'ban', 'timeout', 'delete_messages', 'view_audit_log'];

export class Directory {
	communities = $state<CommunityView[]>([]);
	/** Text channels by community id, in display order. */
	channels = $state<Record<string, ChannelView[]>>({});
	dms = $state<ChannelView[]>([]);
	loaded = $state(false);
	loadError = $state<string | null>(null);
	#api: ApiClient;
	#meId: string;

	/** Whether the user blocked someone: their mentions do not count (as on the server). */
	#blocked: (userId: string) => boolean;

	constructor(api: ApiClient, meId: string, blocked: (userId: string) => boolean = () => false) {
		this.#api = api;
		this.#meId = meId;
		this.#blocked = blocked;
	}

	async load(): Promise<void> {
		try {
			await this.refreshAll();
			this.loaded = true;
			this.loadError = null;
		} catch (error) {
			this.loadError = error instanceof Error ? error.message : 'Could not load your communities.';
		}
	}

	community(id: string): CommunityView | undefined {
		return this.communities.find((c) => c.id === id);
	}

	channelsOf(communityId: string): ChannelView[] {
		return this.channels[communityId] ?? [];
	}

	channel(id: string): ChannelView | undefined {
		for (const list of Object.values(this.channels)) {
			const found = list.find((c) => c.id === id);
			if (found) return found;
		}
		return this.dms.find((c) => c.id === id);
	}

	/** The channel a community opens on: the remembered one, else its first. */
	defaultChannel(communityId: string, remembered?: string | null): ChannelView | undefined {
		const list = this.channelsOf(communityId);
		return list.find((c) => c.id === remembered) ?? list.find((c) => c.id === this.community(communityId)?.systemChannelId) ?? list[0];
	}

	unreadIn(communityId: string): number {
		return this.channelsOf(communityId).reduce((sum, c) => sum + c.unreadCount, 0);
	}

	get dmUnread(): number {
		return this.dms.reduce((sum, c) => sum + c.unreadCount, 0);
	}

	/** Unread mentions of this user in a community's channels (by the routing field). */
	mentionsIn(communityId: string): number {
		return this.channelsOf(communityId).reduce((sum, c) => sum + c.mentionCount, 0);
	}

	/** Unread mentions everywhere plus unread direct messages: what asks for this person's attention. */
	get attention(): number {
		return Object.keys(this.channels).reduce((sum, id) => sum + this.mentionsIn(id), 0) + this.dmUnread;
	}

	/** Unread messages in every channel and DM. */
	get totalUnread(): number {
		return Object.values(this.channels).reduce((sum, list) => sum + list.reduce((n, c) => n + c.unreadCount, 0), 0) + this.dmUnread;
	}

	permissions(communityId: string): CommunityPermissions {
		const community = this.community(communityId);
		const has = (p: Permission) => community?.permissions.includes(p) ?? false;
		return {
			manage: has('manage_channels'),
			deleteOthers: has('delete_messages'),
			pin: has('pin_messages'),
			settings: STAFF_PERMISSIONS.some(has),
			own: community?.role === 'owner',
			muteInCall: has('timeout'),
			removeFromCall: has('kick'),
			mentionEveryone: has('mention_everyone')
		};
	}

	// --- keeping current ---------------------------------------------------------------------------

	/**
	 * A live event in a channel. Returns true when it is a new message from someone else (the caller
	 * decides whether the reader saw it, and calls markedRead if so).
	 */
	applyEvent(channelId: string, event: ChannelEvent): boolean {
		const channel = this.channel(channelId);
		if (!channel || event.seq <= channel.lastSeq) return false;
		channel.lastSeq = event.seq;
		if (event.type === 'disappearing.set') channel.disappearingSeconds = event.seconds;
		if (event.type === 'message.created' && event.message.authorId !== this.#meId && !event.message.deletedAt) {
			const mentioned = namesUser(event.message.mentions, this.#meId) && !this.#blocked(event.message.authorId);
			// Thread replies count for the channel only when they mention the reader (as the server counts).
			if (!event.message.threadRootId || mentioned) channel.unreadCount += 1;
			if (mentioned) channel.mentionCount += 1;
			return true;
		}
		if (event.type === 'message.created' && event.message.authorId === this.#meId) {
			// Writing in a channel means having read it.
			channel.lastReadSeq = Math.max(channel.lastReadSeq, event.seq);
		}
		return false;
	}

	/** The user read the channel up to seq here. */
	markedRead(channelId: string, seq: number): void {
		const channel = this.channel(channelId);
		if (!channel) return;
		channel.lastReadSeq = Math.max(channel.lastReadSeq, seq);
		if (channel.lastReadSeq >= channel.lastSeq) {
			channel.unreadCount = 0;
			channel.mentionCount = 0;
		}
	}

	/** The read marker moved on another tab or device. */
	applyRead(frame: ServerFrameOf<'read'>): void {
		const channel = this.channel(frame.channelId);
		if (!channel || frame.seq <= channel.lastReadSeq) return;
		channel.lastReadSeq = frame.seq;
		if (frame.seq >= channel.lastSeq) {
			channel.unreadCount = 0;
			channel.mentionCount = 0;
		} else void this.refreshChannel(frame.channelId).catch(() => {});
	}

	applyDirectoryChange(frame: ServerFrameOf<'directory.changed'>): void {
		const refresh = (() => {
			switch (frame.reason) {
				case 'channel.created':
				case 'channel.updated':
				case 'community.updated':
					return frame.communityId ? this.refreshCommunity(frame.communityId) : Promise.resolve();
				case 'community.joined':
				case 'community.left':
					return this.refreshCommunities();
				case 'dm.created':
					return this.refreshDms();
				case 'user.updated':
					return Promise.resolve();
			}
		})();
		void refresh.catch(() => {});
	}

	/**
	 * Refetches the list of communities, drops those the user left, and loads the channels of new
	 * ones (or of every one with `all`: after a disconnect, unread counts may have changed anywhere).
	 * A community that fails to load keeps what was known of it.
	 */
	async refreshCommunities(options: { all?: boolean } = {}): Promise<void> {
		const { communities } = await this.#api.get<{ communities: CommunityView[] }>('/api/communities');
		const known = new Set(communities.map((c) => c.id));
		for (const id of Object.keys(this.channels)) if (!known.has(id)) delete this.channels[id];
		const stale = communities.filter((c) => options.all || !this.channels[c.id]);
		await Promise.all(stale.map((c) => this.refreshCommunity(c.id).catch(() => {})));
		this.communities = communities;
	}

	async refreshCommunity(id: string): Promise<CommunityDetail> {
		const { community } = await this.#api.get<{ community: CommunityDetail }>(`/api/communities/${id}`);
		this.#storeCommunity(community);
		return community;
	}

	async refreshDms(): Promise<void> {
		const { channels } = await this.#api.get<{ channels: ChannelView[] }>('/api/dms');
		for (const channel of channels) if (channel.peer) knownProfiles.learn(channel.peer);
		this.dms = sortDms(channels);
	}

	async refreshChannel(id: string): Promise<void> {
		const { channel } = await this.#api.get<{ channel: ChannelView }>(`/api/channels/${id}`);
		this.#storeChannel(channel);
	}

	/** Loads (or refetches, after a disconnect) every community's channels and the DMs. */
	async refreshAll(): Promise<void> {
		await Promise.all([this.refreshCommunities({ all: true }), this.refreshDms()]);
	}

	// --- actions ------------------------------------------------------------------------------------

	async createCommunity(input: { name: string; description: string }): Promise<CommunityDetail> {
		const { community } = await this.#api.post<{ community: CommunityDetail }>('/api/communities', input);
		this.#storeCommunity(community);
		return community;
	}

	async createChannel(communityId: string, input: { name: string; topic: string; kind?: 'text' | 'voice' }): Promise<ChannelView> {
		const { channel } = await this.#api.post<{ channel: ChannelView }>(`/api/communities/${communityId}/channels`, input);
		this.#storeChannel(channel);
		return channel;
	}

	async updateChannel(channelId: string, input: { name?: string; topic?: string }): Promise<ChannelView> {
		const { channel } = await this.#api.patch<{ channel: ChannelView }>(`/api/channels/${channelId}`, input);
		this.#storeChannel(channel);
		return channel;
	}

	async updateCommunity(communityId: string, input: { name?: string; description?: string }): Promise<void> {
		const { community } = await this.#api.patch<{ community: CommunityView }>(`/api/communities/${communityId}`, input);
		this.communities = this.communities.map((c) => (c.id === community.id ? community : c));
	}

	async leaveCommunity(communityId: string): Promise<void> {
		await this.#api.post(`/api/communities/${communityId}/leave`);
		this.#dropCommunity(communityId);
	}

	async deleteCommunity(communityId: string): Promise<void> {
		await this.#api.delete(`/api/communities/${communityId}`);
		this.#dropCommunity(communityId);
	}

	async createInvite(communityId: string, options: { maxUses: number | null; expiresInHours: number | null }): Promise<InviteView> {
		const { invite } = await this.#api.post<{ invite: InviteView }>(`/api/communities/${communityId}/invites`, options);
		return invite;
	}

	async openDm(userId: string): Promise<ChannelView> {
		const { channel } = await this.#api.post<{ channel: ChannelView }>('/api/dms', { userId });
		this.#storeChannel(channel);
		return channel;
	}

	// ------------------------------------------------------------------------------------------------

	#storeCommunity(detail: CommunityDetail) {
		const { channels, ...community } = detail;
		const index = this.communities.findIndex((c) => c.id === community.id);
		if (index === -1) this.communities.push(community);
		else this.communities[index] = community;
		this.channels[community.id] = channels.toSorted((a, b) => a.position - b.position);
	}

	#storeChannel(channel: ChannelView) {
		if (channel.kind === 'dm') {
			const others = this.dms.filter((c) => c.id !== channel.id);
			this.dms = sortDms([...others, channel]);
			return;
		}
		if (!channel.communityId) return;
		const list = this.channels[channel.communityId] ?? [];
		const index = list.findIndex((c) => c.id === channel.id);
		if (index === -1) list.push(channel);
		else list[index] = channel;
		this.channels[channel.communityId] = list.toSorted((a, b) => a.position - b.position);
	}

	#dropCommunity(communityId: string) {
		this.communities = this.communities.filter((c) => c.id !== communityId);
		delete this.channels[communityId];
	}
}

/** Most recently active conversations first. */
function sortDms(channels: ChannelView[]): ChannelView[] {
	return channels.toSorted((a, b) => b.lastSeq - a.lastSeq || (a.peer?.displayName ?? '').localeCompare(b.peer?.displayName ?? ''));
}
