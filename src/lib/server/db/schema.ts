// The database schema, shared by PGlite and PostgreSQL. Migrations in drizzle/ are generated from
// this file with `npm run db:generate` and applied at start-up.
//
// Message bodies are opaque: `messages.payload` is whatever the client sent (ciphertext once
// end-to-end encryption lands). The server reads only routing metadata: channel, author, reply
// target, sequence number, timestamps.
import { sql } from 'drizzle-orm';
import type { Mentions } from '../../shared/mentions.ts';
import {
	bigint,
	boolean,
	check,
	customType,
	index,
	integer,
	jsonb,
	pgTable,
	primaryKey,
	text,
	timestamp,
	uniqueIndex,
	uuid
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

/** Raw bytes; PGlite hands back a Uint8Array and postgres.js a Buffer (also a Uint8Array). */
const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({ dataType: () => 'bytea' });

export const users = pgTable(
	'users',
	{
		id: uuid('id').primaryKey(),
		/** Lower-case login name, unique. */
		username: text('username').notNull(),
		displayName: text('display_name').notNull(),
		passwordHash: text('password_hash').notNull(),
		instanceRole: text('instance_role', { enum: ['owner', 'admin', 'member'] })
			.notNull()
			.default('member'),
		createdAt: createdAt(),
		disabledAt: timestamp('disabled_at', { withTimezone: true }),
		/**
		 * A guest joined a community from an invite with a display name only: no password (the
		 * hash is empty, which never verifies), so the session it got is its only way in. Guests
		 * cannot create communities, direct messages or invites, and lose access while the
		 * instance's guest access is off.
		 */
		isGuest: boolean('is_guest').notNull().default(false),
		/**
		 * When a second factor (a confirmed authenticator app) was turned on; null: password only.
		 * Kept on the user row so every request knows it without another query (the instance may
		 * require a second factor, hooks.server.ts).
		 */
		twoFactorEnabledAt: timestamp('two_factor_enabled_at', { withTimezone: true }),
		/**
		 * Public profile (everyone sharing a community or a DM sees it; not message content, so not
		 * end-to-end encrypted, like the display name). The avatar's bytes are in user_avatars; its
		 * etag here (null: no avatar) versions its URL and travels with every member list.
		 */
		avatarEtag: text('avatar_etag'),
		bio: text('bio').notNull().default(''),
		pronouns: text('pronouns').notNull().default(''),
		/**
		 * The presence the person chose: `auto` (online, idle after inactivity), `idle`, `dnd` (no
		 * desktop or push notifications) or `invisible` (shown offline to others). Kept here so it
		 * survives reconnects and applies to every device.
		 */
		presenceChoice: text('presence_choice', { enum: ['auto', 'idle', 'dnd', 'invisible'] }).notNull().default('auto'),
		/** Custom status (emoji and/or text), hidden once status_expires_at has passed (null: no expiry). */
		statusEmoji: text('status_emoji').notNull().default(''),
		statusText: text('status_text').notNull().default(''),
		statusExpiresAt: timestamp('status_expires_at', { withTimezone: true })
	},
	(t) => [uniqueIndex('users_username_key').on(t.username)]
);

export const sessions = pgTable(
	'sessions',
	{
		/** Hex SHA-256 of the session token; the token itself is never stored. */
		id: text('id').primaryKey(),
		userId: uuid('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		createdAt: createdAt(),
		expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
		lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull().defaultNow(),
		userAgent: text('user_agent').notNull().default(''),
		ipAddress: text('ip_address').notNull().default(''),
		/**
		 * The end-to-end encryption device this session registered (one browser profile), if any.
		 * Deleting the session revokes the device (services/devices.ts); a revoked device's sessions go with it.
		 */
		deviceId: uuid('device_id').references(() => devices.id, { onDelete: 'cascade' })
	},
	(t) => [index('sessions_user_id_idx').on(t.userId), index('sessions_device_id_idx').on(t.deviceId)]
);

/**
 * Authenticator-app (TOTP, RFC 6238) secrets, one per user. The secret is stored encrypted under a
 * key derived from APP_SECRET (auth/secret-box.ts): a copy of the database alone cannot mint codes.
 */
export const totpCredentials = pgTable('totp_credentials', {
	userId: uuid('user_id')
		.primaryKey()
		.references(() => users.id, { onDelete: 'cascade' }),
	/** AES-256-GCM sealed secret (auth/secret-box.ts), never the secret itself. */
	secretSealed: text('secret_sealed').notNull(),
	/** Null while set-up waits for its first code: an unconfirmed secret guards nothing. */
	confirmedAt: timestamp('confirmed_at', { withTimezone: true }),
	/** The last 30-second step whose code was accepted: a code works once (RFC 6238 §5.2). */
	lastUsedStep: bigint('last_used_step', { mode: 'number' }),
	createdAt: createdAt()
});

/** Single-use recovery codes, stored as SHA-256 (each carries 80 random bits, so a hash is enough). */
export const recoveryCodes = pgTable(
	'recovery_codes',
	{
		id: uuid('id').primaryKey(),
		userId: uuid('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		codeHash: text('code_hash').notNull(),
		usedAt: timestamp('used_at', { withTimezone: true }),
		createdAt: createdAt()
	},
	(t) => [uniqueIndex('recovery_codes_user_hash_key').on(t.userId, t.codeHash)]
);

/**
 * A sign-in whose password was right and whose second factor is still due: short-lived, a few
 * attempts, deleted when used. It is no session: only POST /api/auth/second-factor reads it.
 */
export const pendingSignIns = pgTable(
	'pending_sign_ins',
	{
		/** Hex SHA-256 of the pending token, like sessions.id. */
		id: text('id').primaryKey(),
		userId: uuid('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
		attempts: integer('attempts').notNull().default(0),
		createdAt: createdAt()
	},
	(t) => [index('pending_sign_ins_user_idx').on(t.userId)]
);

/**
 * Passkeys (WebAuthn credentials): each signs in on its own, with the authenticator's user
 * verification (PIN, fingerprint). Only public keys are stored.
 */
export const passkeys = pgTable(
	'passkeys',
	{
		/** The credential id, base64url, as the authenticator made it: unique across every account. */
		id: text('id').primaryKey(),
		userId: uuid('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		name: text('name').notNull(),
		/** COSE public key. */
		publicKey: bytea('public_key').notNull(),
		/** The signature counter last seen (0 for authenticators that do not count, such as synced passkeys). */
		counter: bigint('counter', { mode: 'number' }).notNull().default(0),
		transports: text('transports').array().notNull().default(sql`'{}'::text[]`),
		/** singleDevice or multiDevice (synced between a person's devices). */
		deviceType: text('device_type', { enum: ['singleDevice', 'multiDevice'] }).notNull(),
		backedUp: boolean('backed_up').notNull(),
		createdAt: createdAt(),
		lastUsedAt: timestamp('last_used_at', { withTimezone: true })
	},
	(t) => [index('passkeys_user_idx').on(t.userId)]
);

/**
 * Outstanding WebAuthn challenges: one per (binding, purpose), replaced by the next request and
 * deleted when answered, so each is single-use. The binding is the session that asked (adding a
 * passkey), the hash of a short-lived cookie of the browser that asked (signing in with one), or
 * the pending sign-in it is the second factor of.
 */
export const webauthnChallenges = pgTable(
	'webauthn_challenges',
	{
		binding: text('binding').notNull(),
		purpose: text('purpose', { enum: ['register', 'sign_in', 'second_factor'] }).notNull(),
		challenge: text('challenge').notNull(),
		expiresAt: timestamp('expires_at', { withTimezone: true }).notNull()
	},
	(t) => [primaryKey({ columns: [t.binding, t.purpose] })]
);

/**
 * End-to-end encryption devices: one per signed-in browser profile. The server holds public keys
 * only. A removed device keeps its row with revoked_at set, so its identity key (unique) can never
 * be registered again.
 */
export const devices = pgTable(
	'devices',
	{
		id: uuid('id').primaryKey(),
		userId: uuid('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		name: text('name').notNull(),
		/** Ed25519 public key, base64url. */
		identityKey: text('identity_key').notNull(),
		createdAt: createdAt(),
		lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull().defaultNow(),
		revokedAt: timestamp('revoked_at', { withTimezone: true })
	},
	(t) => [uniqueIndex('devices_identity_key_key').on(t.identityKey), index('devices_user_idx').on(t.userId)]
);

/** The current signed prekey of each device (X25519 public key and its Ed25519 signature). */
export const deviceSignedPrekeys = pgTable('device_signed_prekeys', {
	deviceId: uuid('device_id')
		.primaryKey()
		.references(() => devices.id, { onDelete: 'cascade' }),
	/** Chosen by the device: unsigned 32-bit, hence bigint. */
	keyId: bigint('key_id', { mode: 'number' }).notNull(),
	publicKey: text('public_key').notNull(),
	signature: text('signature').notNull(),
	createdAt: createdAt()
});

/** One-time prekeys: each is handed to exactly one claimer and deleted in the same statement. */
export const deviceOneTimePrekeys = pgTable(
	'device_one_time_prekeys',
	{
		deviceId: uuid('device_id')
			.notNull()
			.references(() => devices.id, { onDelete: 'cascade' }),
		keyId: bigint('key_id', { mode: 'number' }).notNull(),
		publicKey: text('public_key').notNull(),
		createdAt: createdAt()
	},
	(t) => [primaryKey({ columns: [t.deviceId, t.keyId] })]
);

/** Pairwise ciphertext queued for one device until it acknowledges it; the server never parses the body. */
export const toDeviceMessages = pgTable(
	'to_device_messages',
	{
		id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
		recipientDeviceId: uuid('recipient_device_id')
			.notNull()
			.references(() => devices.id, { onDelete: 'cascade' }),
		senderUserId: uuid('sender_user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		senderDeviceId: uuid('sender_device_id')
			.notNull()
			.references(() => devices.id, { onDelete: 'cascade' }),
		body: text('body').notNull(),
		createdAt: createdAt()
	},
	(t) => [index('to_device_messages_recipient_idx').on(t.recipientDeviceId, t.id)]
);

/** One encrypted key backup per user: the backup key wrapped under a passphrase-derived key (Argon2id). */
export const keyBackups = pgTable('key_backups', {
	userId: uuid('user_id')
		.primaryKey()
		.references(() => users.id, { onDelete: 'cascade' }),
	version: integer('version').notNull(),
	/** Argon2id parameters and salt (KeyBackupParams): public by design. */
	params: jsonb('params').$type<{ alg: 'argon2id13'; salt: string; opsLimit: number; memLimit: number }>().notNull(),
	wrappedKey: text('wrapped_key').notNull(),
	updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow()
});

/** Entries of a key backup, each encrypted with the backup key; ids are the client's upsert keys. */
export const keyBackupEntries = pgTable(
	'key_backup_entries',
	{
		userId: uuid('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		id: text('id').notNull(),
		ciphertext: text('ciphertext').notNull(),
		updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow()
	},
	(t) => [primaryKey({ columns: [t.userId, t.id] })]
);

/** One row (id = 1) of instance-wide settings that admins change at run time. */
export const instanceSettings = pgTable(
	'instance_settings',
	{
		id: integer('id').primaryKey().default(1),
		registrationMode: text('registration_mode', { enum: ['open', 'invite_only', 'closed'] })
			.notNull()
			.default('open'),
		instanceName: text('instance_name').notNull().default('Hearth'),
		/** Largest message payload in bytes; null: MESSAGE_MAX_BYTES from the environment (also the ceiling). */
		messageMaxBytes: integer('message_max_bytes'),
		/** Community every new account joins; null: none. Cleared when that community is deleted. */
		defaultCommunityId: uuid('default_community_id').references(() => communities.id, { onDelete: 'set null' }),
		/** Multiplies the rate limits from the environment (RATE_LIMIT_FACTORS in src/lib/shared/validation.ts). */
		rateLimitLevel: text('rate_limit_level', { enum: ['relaxed', 'normal', 'strict'] })
			.notNull()
			.default('normal'),
		/** Hash of the instance icon (instance_icon), null when there is none: it versions the icon's URL. */
		iconEtag: text('icon_etag'),
		/** Lets invite links create guest accounts (display name only); off by default. */
		guestAccess: boolean('guest_access').notNull().default(false),
		/** ICE servers for calls; empty: STUN_URLS / TURN_URLS from the environment. The TURN secret stays there. */
		stunUrls: text('stun_urls').array().notNull().default(sql`'{}'::text[]`),
		turnUrls: text('turn_urls').array().notNull().default(sql`'{}'::text[]`),
		/** Largest attachment (ciphertext) in bytes; null: ATTACHMENT_MAX_BYTES from the environment (also the ceiling). */
		uploadMaxBytes: integer('upload_max_bytes'),
		/** Who must use a second factor: nobody, server owners and admins, or everyone (guests excepted: they have no password). */
		twoFactorRequirement: text('two_factor_requirement', { enum: ['off', 'admins', 'everyone'] })
			.notNull()
			.default('off'),
		/** Days a person who falls under the requirement may still work without a second factor, being led to set it up. */
		twoFactorGraceDays: integer('two_factor_grace_days').notNull().default(7),
		/** When the requirement last widened (off → admins → everyone): the grace period counts from here. */
		twoFactorRequiredSince: timestamp('two_factor_required_since', { withTimezone: true }),
		updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow()
	},
	(t) => [check('instance_settings_single_row', sql`${t.id} = 1`)]
);


/**
 * The instance icon (one row at most): a small PNG, JPEG or WebP checked by its bytes, served
 * publicly at /api/instance/icon. Apart from instance_settings so the settings cache stays small.
 */
export const instanceIcon = pgTable(
	'instance_icon',
	{
		id: integer('id').primaryKey().default(1),
		/** Sniffed from the bytes, never taken from the uploader's Content-Type. */
		contentType: text('content_type', { enum: ['image/png', 'image/jpeg', 'image/webp'] }).notNull(),
		bytes: bytea('bytes').notNull(),
		updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow()
	},
	(t) => [check('instance_icon_single_row', sql`${t.id} = 1`)]
);

/**
 * A person's avatar: a square PNG, JPEG or WebP the browser cropped, checked by its bytes, served at
 * /api/users/:id/avatar to those who can see the person. Apart from users so session lookups
 * (which read the whole users row) never carry image bytes.
 */
export const userAvatars = pgTable('user_avatars', {
	userId: uuid('user_id')
		.primaryKey()
		.references(() => users.id, { onDelete: 'cascade' }),
	/** Sniffed from the bytes, never taken from the uploader's Content-Type. */
	contentType: text('content_type', { enum: ['image/png', 'image/jpeg', 'image/webp'] }).notNull(),
	bytes: bytea('bytes').notNull(),
	updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow()
});

export const communities = pgTable('communities', {
	id: uuid('id').primaryKey(),
	name: text('name').notNull(),
	description: text('description').notNull().default(''),
	ownerId: uuid('owner_id')
		.notNull()
		.references(() => users.id),
	/** Channel that receives "joined" / "left" system events. */
	systemChannelId: uuid('system_channel_id'),
	createdAt: createdAt()
});

export const communityMembers = pgTable(
	'community_members',
	{
		communityId: uuid('community_id')
			.notNull()
			.references(() => communities.id, { onDelete: 'cascade' }),
		userId: uuid('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		role: text('role', { enum: ['owner', 'admin', 'moderator', 'member'] })
			.notNull()
			.default('member'),
		/** A custom role adds its permissions to the built-in role's (src/lib/shared/permissions.ts). */
		customRoleId: uuid('custom_role_id').references(() => communityRoles.id, { onDelete: 'set null' }),
		/** Timed out: cannot send messages or react until then. */
		timedOutUntil: timestamp('timed_out_until', { withTimezone: true }),
		joinedAt: timestamp('joined_at', { withTimezone: true }).notNull().defaultNow()
	},
	(t) => [
		primaryKey({ columns: [t.communityId, t.userId] }),
		index('community_members_user_idx').on(t.userId)
	]
);

/**
 * A community's own emoji, used as :name: in messages and reactions by its members: a small PNG,
 * GIF or WebP checked by its bytes (never SVG), uploaded by those who manage the community.
 */
export const communityEmoji = pgTable(
	'community_emoji',
	{
		id: uuid('id').primaryKey(),
		communityId: uuid('community_id')
			.notNull()
			.references(() => communities.id, { onDelete: 'cascade' }),
		/** Lower-case letters, digits and underscores, unique in the community. */
		name: text('name').notNull(),
		/** Sniffed from the bytes, never taken from the uploader's Content-Type. */
		contentType: text('content_type', { enum: ['image/png', 'image/gif', 'image/webp'] }).notNull(),
		bytes: bytea('bytes').notNull(),
		/** Versions the image's URL, so browsers may keep each for good. */
		etag: text('etag').notNull(),
		createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
		createdAt: createdAt()
	},
	(t) => [uniqueIndex('community_emoji_name_key').on(t.communityId, t.name)]
);

/** Custom roles of a community: a name and a set of permissions (strings of PERMISSIONS). */
export const communityRoles = pgTable(
	'community_roles',
	{
		id: uuid('id').primaryKey(),
		communityId: uuid('community_id')
			.notNull()
			.references(() => communities.id, { onDelete: 'cascade' }),
		name: text('name').notNull(),
		permissions: jsonb('permissions').$type<string[]>().notNull().default([]),
		createdAt: createdAt()
	},
	(t) => [uniqueIndex('community_roles_name_key').on(t.communityId, t.name)]
);

/** Bans keep a user out of a community (no rejoining through invites) until they expire, if ever. */
export const communityBans = pgTable(
	'community_bans',
	{
		communityId: uuid('community_id')
			.notNull()
			.references(() => communities.id, { onDelete: 'cascade' }),
		userId: uuid('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		reason: text('reason').notNull().default(''),
		/** Null: until lifted. */
		expiresAt: timestamp('expires_at', { withTimezone: true }),
		bannedBy: uuid('banned_by').references(() => users.id, { onDelete: 'set null' }),
		createdAt: createdAt()
	},
	(t) => [primaryKey({ columns: [t.communityId, t.userId] })]
);

/**
 * Who did what to whom, when: every administrative and moderation action, written in the same
 * transaction as the action. community_id null: an instance-level action. Names are copied into
 * `data` so an entry stays readable after the account is deleted. Purged after
 * AUDIT_LOG_RETENTION_DAYS.
 */
export const auditLog = pgTable(
	'audit_log',
	{
		id: uuid('id').primaryKey(),
		communityId: uuid('community_id').references(() => communities.id, { onDelete: 'cascade' }),
		actorId: uuid('actor_id').references(() => users.id, { onDelete: 'set null' }),
		action: text('action').notNull(),
		targetUserId: uuid('target_user_id').references(() => users.id, { onDelete: 'set null' }),
		/** Id of the non-user target (channel, role, message, report), when there is one. */
		targetId: text('target_id'),
		/** Small non-secret details (reason, expiry, old and new values); never message bodies or passwords. */
		data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
		createdAt: createdAt()
	},
	(t) => [index('audit_log_community_idx').on(t.communityId, t.createdAt), index('audit_log_created_idx').on(t.createdAt)]
);

/**
 * Reports of messages. The content is what the reporter's device showed and forwarded (with E2EE
 * the server cannot read the message itself), so it is labelled as forwarded by the reporter.
 */
export const messageReports = pgTable(
	'message_reports',
	{
		id: uuid('id').primaryKey(),
		communityId: uuid('community_id')
			.notNull()
			.references(() => communities.id, { onDelete: 'cascade' }),
		channelId: uuid('channel_id')
			.notNull()
			.references(() => channels.id, { onDelete: 'cascade' }),
		messageId: uuid('message_id')
			.notNull()
			.references(() => messages.id, { onDelete: 'cascade' }),
		reporterId: uuid('reporter_id').references(() => users.id, { onDelete: 'set null' }),
		authorId: uuid('author_id').references(() => users.id, { onDelete: 'set null' }),
		reason: text('reason').notNull(),
		forwardedContent: text('forwarded_content').notNull(),
		status: text('status', { enum: ['open', 'resolved', 'dismissed'] })
			.notNull()
			.default('open'),
		resolvedBy: uuid('resolved_by').references(() => users.id, { onDelete: 'set null' }),
		resolvedAt: timestamp('resolved_at', { withTimezone: true }),
		createdAt: createdAt()
	},
	(t) => [index('message_reports_community_idx').on(t.communityId, t.status)]
);

export const channels = pgTable(
	'channels',
	{
		id: uuid('id').primaryKey(),
		/** Null for direct-message channels. */
		communityId: uuid('community_id').references(() => communities.id, { onDelete: 'cascade' }),
		kind: text('kind', { enum: ['text', 'voice', 'dm'] }).notNull(),
		name: text('name').notNull().default(''),
		topic: text('topic').notNull().default(''),
		position: integer('position').notNull().default(0),
		/** Seconds a member must wait between two messages here; 0: no slow mode. Staff are exempt. */
		slowModeSeconds: integer('slow_mode_seconds').notNull().default(0),
		/** Disappearing messages: messages sent while it is set are deleted this long after sending (0: off). */
		disappearingSeconds: integer('disappearing_seconds').notNull().default(0),
		/** Per-role allow/deny of channel permissions (ChannelOverrides in src/lib/shared/permissions.ts). */
		permissionOverrides: jsonb('permission_overrides')
			.$type<Record<string, { allow: ('send_messages' | 'delete_messages' | 'mention_everyone')[]; deny: ('send_messages' | 'delete_messages' | 'mention_everyone')[] }>>()
			.notNull()
			.default({}),
		/** Archived channels keep their history readable but take no new messages. */
		archivedAt: timestamp('archived_at', { withTimezone: true }),
		/** For DMs: "<smaller user id>:<larger user id>", so a pair has at most one DM channel. */
		dmKey: text('dm_key'),
		/** Highest sequence number handed out in this channel; the next event gets last_seq + 1. */
		lastSeq: bigint('last_seq', { mode: 'number' }).notNull().default(0),
		createdAt: createdAt()
	},
	(t) => [
		index('channels_community_idx').on(t.communityId),
		uniqueIndex('channels_dm_key_key').on(t.dmKey)
	]
);

/** Participants of direct-message channels (community channels take their members from the community). */
export const dmParticipants = pgTable(
	'dm_participants',
	{
		channelId: uuid('channel_id')
			.notNull()
			.references(() => channels.id, { onDelete: 'cascade' }),
		userId: uuid('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' })
	},
	(t) => [primaryKey({ columns: [t.channelId, t.userId] }), index('dm_participants_user_idx').on(t.userId)]
);

export const messages = pgTable(
	'messages',
	{
		id: uuid('id').primaryKey(),
		channelId: uuid('channel_id')
			.notNull()
			.references(() => channels.id, { onDelete: 'cascade' }),
		/** Sequence number of the event that created the message; orders history. */
		seq: bigint('seq', { mode: 'number' }).notNull(),
		authorId: uuid('author_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		/** Idempotency key chosen by the sending client: a retry never creates a second message. */
		clientId: text('client_id').notNull(),
		/** Opaque body (ciphertext with E2EE). Emptied when the message is deleted. */
		payload: text('payload').notNull(),
		replyToId: uuid('reply_to_id'),
		/**
		 * Routing field: who the message mentions (user ids, @everyone, @here), for counts and
		 * notifications. The encrypted content repeats it; readers trust only what both say.
		 */
		mentions: jsonb('mentions').$type<Mentions>(),
		createdAt: createdAt(),
		editedAt: timestamp('edited_at', { withTimezone: true }),
		deletedAt: timestamp('deleted_at', { withTimezone: true }),
		/** Pinned to its channel's pinned list: when, and by whom (routing metadata, like the author). */
		pinnedAt: timestamp('pinned_at', { withTimezone: true }),
		pinnedBy: uuid('pinned_by').references(() => users.id, { onDelete: 'set null' }),
		/** When the expiry job deletes it: sending time plus the channel's disappearing timer then. */
		expiresAt: timestamp('expires_at', { withTimezone: true }),
		/**
		 * Routing field of a thread reply: the channel message it answers in a thread (null: a message of
		 * the channel itself). Replies are ordinary channel messages with their own seq, so resume covers them.
		 */
		threadRootId: uuid('thread_root_id'),
		/** On a thread's root: its replies not deleted, the newest reply's time and seq (kept by the send path). */
		threadReplyCount: integer('thread_reply_count').notNull().default(0),
		threadLastReplyAt: timestamp('thread_last_reply_at', { withTimezone: true }),
		threadLastReplySeq: bigint('thread_last_reply_seq', { mode: 'number' })
	},
	(t) => [
		uniqueIndex('messages_channel_seq_key').on(t.channelId, t.seq),
		uniqueIndex('messages_author_client_key').on(t.authorId, t.clientId),
		// The pinned list of a channel, newest pin first; partial, since few messages are pinned.
		index('messages_channel_pinned_idx').on(t.channelId, t.pinnedAt).where(sql`${t.pinnedAt} is not null`),
		// The expiry job's scan: only messages that will disappear are in it.
		index('messages_expires_idx').on(t.expiresAt).where(sql`${t.expiresAt} is not null`),
		// A thread's replies in order; partial, since most messages are not thread replies.
		index('messages_thread_idx').on(t.threadRootId, t.seq).where(sql`${t.threadRootId} is not null`)
	]
);

/**
 * Earlier versions of edited messages, each the ciphertext the edit replaced: the "edited" marker
 * opens them, decrypted in the browser like the message itself. Erased with the message on delete.
 */
export const messageRevisions = pgTable(
	'message_revisions',
	{
		id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
		messageId: uuid('message_id')
			.notNull()
			.references(() => messages.id, { onDelete: 'cascade' }),
		/** The payload as it was before the edit (ciphertext with E2EE). */
		payload: text('payload').notNull(),
		/** When this version was written: the message's creation or the edit before. */
		writtenAt: timestamp('written_at', { withTimezone: true }).notNull(),
		/** When the edit replaced it. */
		replacedAt: timestamp('replaced_at', { withTimezone: true }).notNull()
	},
	(t) => [index('message_revisions_message_idx').on(t.messageId, t.id)]
);

export const reactions = pgTable(
	'reactions',
	{
		messageId: uuid('message_id')
			.notNull()
			.references(() => messages.id, { onDelete: 'cascade' }),
		userId: uuid('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		/** Opaque reaction key (the emoji today; a keyed digest once reactions are encrypted). */
		key: text('key').notNull(),
		createdAt: createdAt()
	},
	(t) => [primaryKey({ columns: [t.messageId, t.userId, t.key] })]
);

/**
 * The per-channel event log behind resume: every persisted change gets the next gap-free sequence
 * number of its channel. Bodies are not copied here; resume reads the current message row, so an
 * edit or delete also scrubs what replays would show.
 */
export const channelEvents = pgTable(
	'channel_events',
	{
		channelId: uuid('channel_id')
			.notNull()
			.references(() => channels.id, { onDelete: 'cascade' }),
		seq: bigint('seq', { mode: 'number' }).notNull(),
		type: text('type', {
			enum: [
				'message.created',
				'message.edited',
				'message.deleted',
				'reaction.added',
				'reaction.removed',
				'member.joined',
				'member.left',
				'message.pinned',
				'message.unpinned',
				'disappearing.set'
			]
		}).notNull(),
		messageId: uuid('message_id'),
		actorId: uuid('actor_id'),
		/** Small non-secret metadata (reaction key, member name); never message bodies. */
		data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
		createdAt: createdAt()
	},
	(t) => [primaryKey({ columns: [t.channelId, t.seq] })]
);

export const readStates = pgTable(
	'read_states',
	{
		userId: uuid('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		channelId: uuid('channel_id')
			.notNull()
			.references(() => channels.id, { onDelete: 'cascade' }),
		lastReadSeq: bigint('last_read_seq', { mode: 'number' }).notNull().default(0),
		updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow()
	},
	(t) => [primaryKey({ columns: [t.userId, t.channelId] })]
);

/** Invite codes: instance invites (community_id null) admit sign-ups; community invites also join. */
export const invites = pgTable(
	'invites',
	{
		code: text('code').primaryKey(),
		communityId: uuid('community_id').references(() => communities.id, { onDelete: 'cascade' }),
		createdBy: uuid('created_by')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		/** Null: unlimited. */
		maxUses: integer('max_uses'),
		uses: integer('uses').notNull().default(0),
		expiresAt: timestamp('expires_at', { withTimezone: true }),
		revokedAt: timestamp('revoked_at', { withTimezone: true }),
		createdAt: createdAt()
	},
	(t) => [index('invites_community_idx').on(t.communityId)]
);

/**
 * Who used an invite, and when: one row per use (sign-up or community join), so admins can see who
 * came in through which code. A deleted account keeps its row with user_id null, so the count of
 * rows still matches the invite's uses.
 */
export const inviteRedemptions = pgTable(
	'invite_redemptions',
	{
		id: uuid('id').primaryKey(),
		code: text('code')
			.notNull()
			.references(() => invites.code, { onDelete: 'cascade' }),
		userId: uuid('user_id').references(() => users.id, { onDelete: 'set null' }),
		redeemedAt: timestamp('redeemed_at', { withTimezone: true }).notNull().defaultNow()
	},
	(t) => [index('invite_redemptions_code_idx').on(t.code, t.redeemedAt)]
);

/**
 * Attachments: ciphertext encrypted in the browser (its key travels inside the encrypted message),
 * readable by whoever can read the channel. The server knows only the size.
 */
export const attachments = pgTable(
	'attachments',
	{
		id: uuid('id').primaryKey(),
		channelId: uuid('channel_id')
			.notNull()
			.references(() => channels.id, { onDelete: 'cascade' }),
		uploaderId: uuid('uploader_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		size: integer('size').notNull(),
		data: bytea('data').notNull(),
		createdAt: createdAt(),
		/** Uploaded to a channel with disappearing messages: deleted by the expiry job then. */
		expiresAt: timestamp('expires_at', { withTimezone: true })
	},
	(t) => [index('attachments_channel_idx').on(t.channelId), index('attachments_expires_idx').on(t.expiresAt).where(sql`${t.expiresAt} is not null`)]
);

/**
 * Web Push subscriptions: one per encryption device (so per browser), pointing at a push service
 * from PUSH_SERVICE_HOSTS. Deleted when the push service answers 404/410, or with the device.
 */
export const pushSubscriptions = pgTable('push_subscriptions', {
	deviceId: uuid('device_id')
		.primaryKey()
		.references(() => devices.id, { onDelete: 'cascade' }),
	userId: uuid('user_id')
		.notNull()
		.references(() => users.id, { onDelete: 'cascade' }),
	endpoint: text('endpoint').notNull(),
	/** The browser's P-256 public key and auth secret (base64url): what the payload is encrypted to. */
	p256dh: text('p256dh').notNull(),
	auth: text('auth').notNull(),
	createdAt: createdAt(),
	lastPushAt: timestamp('last_push_at', { withTimezone: true })
}, (t) => [index('push_subscriptions_user_idx').on(t.userId)]);

/** The server's VAPID key pair when VAPID_* is not set: generated once, kept here (one row). */
export const pushVapidKeys = pgTable('push_vapid_keys', {
	id: integer('id').primaryKey(),
	publicKey: text('public_key').notNull(),
	privateKey: text('private_key').notNull(),
	createdAt: createdAt()
});

/**
 * Who hears about what (push, and the open app's desktop notifications): a level per community or
 * channel (the channel's wins). Without a row: direct messages and mentions notify, the rest not.
 */
export const notificationLevels = pgTable(
	'notification_levels',
	{
		userId: uuid('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		/** A community id or a channel id. */
		targetId: uuid('target_id').notNull(),
		level: text('level', { enum: ['all', 'mentions', 'none'] }).notNull()
	},
	(t) => [primaryKey({ columns: [t.userId, t.targetId] })]
);

/** Do not disturb: no push and no desktop notification until then. */
export const notificationQuiet = pgTable('notification_quiet', {
	userId: uuid('user_id')
		.primaryKey()
		.references(() => users.id, { onDelete: 'cascade' }),
	until: timestamp('until', { withTimezone: true }).notNull()
});

/**
 * Who blocked whom. The blocker no longer gets direct messages, mentions or notifications from the
 * blocked person, and sees their messages collapsed; neither can send the other direct messages.
 */
export const userBlocks = pgTable(
	'user_blocks',
	{
		blockerId: uuid('blocker_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		blockedId: uuid('blocked_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		createdAt: createdAt()
	},
	(t) => [primaryKey({ columns: [t.blockerId, t.blockedId] }), index('user_blocks_blocked_idx').on(t.blockedId)]
);

/**
 * Who follows which thread, and how far they read it. Starting a thread (being its root's author)
 * or replying follows it; following can be switched off and on. Unread: the root's
 * thread_last_reply_seq is above last_read_seq.
 */
export const threadFollows = pgTable(
	'thread_follows',
	{
		userId: uuid('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		rootId: uuid('root_id')
			.notNull()
			.references(() => messages.id, { onDelete: 'cascade' }),
		channelId: uuid('channel_id')
			.notNull()
			.references(() => channels.id, { onDelete: 'cascade' }),
		following: boolean('following').notNull().default(true),
		lastReadSeq: bigint('last_read_seq', { mode: 'number' }).notNull().default(0),
		updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow()
	},
	(t) => [primaryKey({ columns: [t.userId, t.rootId] }), index('thread_follows_user_channel_idx').on(t.userId, t.channelId)]
);
