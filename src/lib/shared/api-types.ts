// Shapes of REST response bodies, shared by the endpoints and the browser client. Views that also
// travel over /ws (messages, channels, users) are defined with their schemas in protocol/frames.ts.
import type { ChannelView, MessageView, UserView } from './protocol/frames.ts';
import type { RateLimitLevel, RegistrationMode } from './validation.ts';
import type { CommunityRole, Permission } from './permissions.ts';

export type { ChannelView, MessageView, UserView };

export type InstanceRole = 'owner' | 'admin' | 'member';
export type { CommunityRole, Permission };

/** `guest`: joined from an invite with a display name only (see users.is_guest). */
/** `twoFactor`: the account has a second factor turned on. */
export type Me = UserView & { instanceRole: InstanceRole; createdAt: string; guest: boolean; twoFactor: boolean };

export type TwoFactorRequirement = 'off' | 'admins' | 'everyone';

/** The account's second factor, and what the instance requires of it (GET /api/me/two-factor). */
export type TwoFactorStatus = {
	enabled: boolean;
	enabledAt: string | null;
	/** Unused recovery codes (0 while two-factor is off). */
	recoveryCodesLeft: number;
};
export type TwoFactorOverview = TwoFactorStatus & {
	/** The instance requires a second factor of this account. */
	required: boolean;
	/** Until when the account may still work without one; null when not required or already on. */
	deadline: string | null;
	/** Past the deadline without a second factor: only setting it up is allowed. */
	blocked: boolean;
};

/** A passkey of the signed-in account (GET /api/me/passkeys). */
export type PasskeyView = {
	id: string;
	name: string;
	createdAt: string;
	lastUsedAt: string | null;
	/** Synced between the person's devices by their platform (iCloud Keychain, Google Password Manager, ...). */
	synced: boolean;
	backedUp: boolean;
};

/** POST /api/auth/sign-in when the account has a second factor: no session yet, the code comes next. */
export type SecondFactorChallenge = { secondFactor: { methods: ('totp' | 'recovery_code' | 'passkey')[]; expiresAt: string } };

export type InstanceInfo = {
	name: string;
	registrationMode: RegistrationMode;
	/** True until the first account (the owner) exists. */
	needsSetup: boolean;
	/** The instance icon's URL (versioned), or null when the admins have not set one. */
	iconUrl: string | null;
};

export type CommunityView = {
	id: string;
	name: string;
	description: string;
	ownerId: string;
	systemChannelId: string | null;
	role: CommunityRole;
	/** What the caller may do here (built-in role plus custom role); the UI shows only these tools. */
	permissions: Permission[];
	memberCount: number;
	createdAt: string;
};

export type CommunityDetail = CommunityView & { channels: ChannelView[] };

export type MemberView = {
	user: UserView;
	role: CommunityRole;
	customRole: { id: string; name: string } | null;
	/** Set while the member is timed out (cannot send messages). */
	timedOutUntil: string | null;
	joinedAt: string;
	/** A guest account (display name only), marked as such in member lists. */
	guest: boolean;
};

export type CustomRoleView = { id: string; communityId: string; name: string; permissions: Permission[]; memberCount: number; createdAt: string };

export type BanView = { user: UserView; reason: string; expiresAt: string | null; bannedBy: UserView | null; createdAt: string };

export type AuditEntryView = {
	id: string;
	communityId: string | null;
	action: string;
	actor: UserView | null;
	targetUser: UserView | null;
	targetId: string | null;
	data: Record<string, unknown>;
	createdAt: string;
};

export type ReportView = {
	id: string;
	communityId: string;
	channelId: string;
	messageId: string;
	reporter: UserView | null;
	author: UserView | null;
	reason: string;
	/** What the reporter's device showed; the server cannot verify it (end-to-end encryption). */
	forwardedContent: string;
	status: 'open' | 'resolved' | 'dismissed';
	resolvedBy: UserView | null;
	resolvedAt: string | null;
	createdAt: string;
};

export type InstanceSettingsView = {
	name: string;
	registrationMode: RegistrationMode;
	/** Null: the environment's MESSAGE_MAX_BYTES. */
	messageMaxBytes: number | null;
	/** The ceiling set by MESSAGE_MAX_BYTES, which the setting may not exceed. */
	messageMaxBytesCeiling: number;
	/** Largest attachment (ciphertext bytes); null: the environment's ATTACHMENT_MAX_BYTES. */
	uploadMaxBytes: number | null;
	/** The ceiling set by ATTACHMENT_MAX_BYTES, which the setting may not exceed. */
	uploadMaxBytesCeiling: number;
	defaultCommunityId: string | null;
	/** Multiplies the environment's rate limits: relaxed ×2, normal ×1, strict ×½. */
	rateLimitLevel: RateLimitLevel;
	iconUrl: string | null;
	/** Invite links may create guest accounts. */
	guestAccess: boolean;
	/** ICE servers for calls; empty: the environment's (stunUrlsDefault, turnUrlsDefault). */
	stunUrls: string[];
	turnUrls: string[];
	/** STUN_URLS and TURN_URLS from the environment (public anyway: browsers get them on joining a call). */
	stunUrlsDefault: string[];
	turnUrlsDefault: string[];
	/** Who must use a second factor, and for how many days a person may put off setting it up. */
	twoFactorRequirement: TwoFactorRequirement;
	twoFactorGraceDays: number;
	/** Whether TURN_SECRET is set (never the secret itself): TURN URLs need it. */
	turnSecretSet: boolean;
};

export type AdminUserView = UserView & {
	instanceRole: InstanceRole;
	createdAt: string;
	disabled: boolean;
	lastSeenAt: string | null;
	sessionCount: number;
	twoFactor: boolean;
};

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

/** One use of an invite: who signed up or joined with it, and when. Null user: the account was deleted since. */
export type InviteRedemptionView = {
	user: { id: string; username: string; displayName: string } | null;
	redeemedAt: string;
};

/** Instance invites as the admin list shows them: with who used each, newest use first. */
export type InstanceInviteView = InviteView & { redemptions: InviteRedemptionView[] };

export type InvitePreview = {
	code: string;
	valid: boolean;
	/** Why it cannot be used, when not valid. */
	reason: string | null;
	community: { id: string; name: string; description: string; memberCount: number } | null;
	instanceName: string;
	/** The server lets this invite create a guest account (display name only). */
	guestAccess: boolean;
};

/**
 * A channel event shown between messages: someone joined or left, or someone pinned or unpinned a
 * message (`messageId`; `user` is who did it).
 */
export type MemberNotice =
	| { seq: number; type: 'member.joined' | 'member.left'; user: UserView; at: string }
	| { seq: number; type: 'message.pinned' | 'message.unpinned'; user: UserView; at: string; messageId: string }
	| { seq: number; type: 'disappearing.set'; user: UserView; at: string; seconds: number };

/**
 * An edited message's earlier versions, oldest first, and its current one (GET /api/messages/:id/revisions).
 * Payloads are ciphertext, opened in the browser like the message itself.
 */
export type MessageRevisions = {
	revisions: Array<{ payload: string; writtenAt: string; replacedAt: string }>;
	current: { payload: string; writtenAt: string };
};

/** A channel's pinned list, newest pin first (GET /api/channels/:id/pins). */
export type PinnedList = { pins: Array<{ message: MessageView; pinnedAt: string; pinnedBy: UserView | null }>; max: number };

/** A thread (GET /api/threads/:rootId): its root and a page of replies in seq order, and where the caller stands. */
export type ThreadPage = {
	root: MessageView;
	replies: MessageView[];
	/** Older replies exist before the first one returned. */
	hasMoreBefore: boolean;
	/** Highest seq of the channel when the page was read (replies are channel events: this is their cursor). */
	lastSeq: number;
	following: boolean;
	/** The caller's read marker in this thread (a channel seq). */
	lastReadSeq: number;
};

/** One thread the caller follows (GET /api/channels/:id/threads), most recently active first. */
export type FollowedThread = { root: MessageView; lastReadSeq: number; unread: boolean };
export type FollowedThreads = { threads: FollowedThread[] };

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
