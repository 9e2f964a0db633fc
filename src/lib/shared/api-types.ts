// Shapes of REST response bodies, shared by the endpoints and the browser client. Views that also
// travel over /ws (messages, channels, users) are defined with their schemas in protocol/frames.ts.
import type { ChannelView, MessageView, UserView } from './protocol/frames.ts';
import type { RegistrationMode } from './validation.ts';

export type { ChannelView, MessageView, UserView };

export type InstanceRole = 'owner' | 'admin' | 'member';
export type CommunityRole = 'owner' | 'admin' | 'member';

export type Me = UserView & { instanceRole: InstanceRole; createdAt: string };

export type InstanceInfo = {
	name: string;
	registrationMode: RegistrationMode;
	/** True until the first account (the owner) exists. */
	needsSetup: boolean;
};

export type CommunityView = {
	id: string;
	name: string;
	description: string;
	ownerId: string;
	systemChannelId: string | null;
	role: CommunityRole;
	memberCount: number;
	createdAt: string;
};

export type CommunityDetail = CommunityView & { channels: ChannelView[] };

export type MemberView = { user: UserView; role: CommunityRole; joinedAt: string };

export type SessionView = {
	id: string;
	current: boolean;
	createdAt: string;
	lastSeenAt: string;
	expiresAt: string;
	userAgent: string;
	ipAddress: string;
};

export type InviteView = {
	code: string;
	communityId: string | null;
	createdBy: string;
	maxUses: number | null;
	uses: number;
	expiresAt: string | null;
	revoked: boolean;
	createdAt: string;
};

export type InvitePreview = {
	code: string;
	valid: boolean;
	/** Why it cannot be used, when not valid. */
	reason: string | null;
	community: { id: string; name: string; description: string; memberCount: number } | null;
	instanceName: string;
};

/** "Someone joined / left": a membership event of the channel, shown between messages. */
export type MemberNotice = { seq: number; type: 'member.joined' | 'member.left'; user: UserView; at: string };

export type HistoryPage = {
	messages: MessageView[];
	/** Membership events between the page's messages (and after them on the newest page), in seq order. */
	notices: MemberNotice[];
	/** Highest sequence number of the channel when the page was read: the resume cursor. */
	lastSeq: number;
	/** More messages exist before the oldest one returned. */
	hasMoreBefore: boolean;
	hasMoreAfter: boolean;
};

export type ApiErrorBody = { error: { code: string; message: string } };
