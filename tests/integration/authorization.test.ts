// The authorization matrix: every REST endpoint and every /ws frame type, tried by a signed-out
// visitor (401), a signed-in stranger who is not a member (404, exactly like a missing id), a
// member lacking the role (403), and with malformed ids (404, never 500). A route or frame type
// added without a row here fails the coverage checks at the bottom.
//
// The same matrix runs against a cluster of two nodes (integration-postgres with redis-server):
// everything is created through node a, and every refusal is asked of node b, so no node answers
// from what it alone saw.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, ROOT, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient, type TestSocket } from '../helpers/clients.ts';
import { onNode, startTestCluster, type TestCluster } from '../helpers/test-cluster.ts';
import { clusterUnavailableReason } from '../helpers/test-redis.ts';
import { createCommunity, createInvite, expectError, joinCommunity, MISSING_ID, newClientId, sendMessage, UNAUTHENTICATED } from '../helpers/fixtures.ts';
import type { ChannelView, CustomRoleView, InviteView, SessionView } from '#lib/shared/api-types.ts';
import { clientFrames } from '#lib/shared/protocol/frames.ts';
import { encodeMessageBody } from '#lib/shared/message-body.ts';
import { body as registrationBody, oneTimePrekeys, registration, signedPrekey, identity } from '../helpers/e2ee-keys.ts';

const skip = postgresUnavailableReason();

type Fixture = {
	communityId: string;
	channelId: string;
	voiceChannelId: string;
	dmChannelId: string;
	messageId: string;
	inviteCode: string;
	ownerSessionId: string;
	ownerId: string;
	roleId: string;
	reportId: string;
	ownerDeviceId: string;
	attachmentId: string;
	emojiId: string;
};

type Call = { method: string; path: string; body?: unknown };
type Refusal = { status: number; code: string; message: string };

type Row = {
	/** METHOD and SvelteKit route id, e.g. "PATCH /api/communities/[id]". */
	route: string;
	call: (f: Fixture) => Call;
	/** Answers signed-out visitors; otherwise they get 401. */
	public?: string;
	/** The stranger is refused like a missing resource; `missing` is the same call on an id that does not exist. */
	hidden?: { missing: (f: Fixture) => Call; malformed?: (f: Fixture) => Call; message: string };
	/** A member of the community without the needed role is refused with this. */
	memberRefused?: Refusal;
};

const notFound = (what: string): Refusal => ({ status: 404, code: 'not_found', message: `${what} was not found.` });
const needs = (label: string): Refusal => ({ status: 403, code: 'forbidden', message: `You need the "${label}" permission in this community to do that.` });
const OWNER_ONLY = 'Only the owner of this community can do that.';
const INSTANCE_ADMINS_ONLY = 'Only instance owners and admins can do that.';
const MALFORMED = 'not-a-uuid';

/** For choosing rows by the shape of their calls before the real fixture exists. */
const placeholder: Fixture = { communityId: '', channelId: '', voiceChannelId: '', dmChannelId: '', messageId: '', inviteCode: '', ownerSessionId: '', ownerId: '', roleId: '', reportId: '', ownerDeviceId: '', attachmentId: '', emojiId: '' };

const rows: Row[] = [
	{ route: 'GET /health', call: () => ({ method: 'GET', path: '/health' }), public: 'monitors need it without an account' },
	{ route: 'GET /live', call: () => ({ method: 'GET', path: '/live' }), public: 'monitors need it without an account' },
	{ route: 'GET /ready', call: () => ({ method: 'GET', path: '/ready' }), public: 'load balancers need it without an account' },
	{ route: 'GET /api/csrf', call: () => ({ method: 'GET', path: '/api/csrf' }), public: 'the sign-in form needs a token' },
	{ route: 'GET /api/instance', call: () => ({ method: 'GET', path: '/api/instance' }), public: 'the sign-up page shows the registration mode' },
	{ route: 'GET /api/instance/icon', call: () => ({ method: 'GET', path: '/api/instance/icon' }), public: 'the sign-in page shows the server icon' },
	{
		route: 'POST /api/auth/sign-in',
		call: () => ({ method: 'POST', path: '/api/auth/sign-in', body: { username: 'nobody-here', password: 'whatever-password' } }),
		public: 'signing in'
	},
	{ route: 'POST /api/auth/sign-up', call: () => ({ method: 'POST', path: '/api/auth/sign-up', body: { username: 'x' } }), public: 'signing up' },
	{
		route: 'POST /api/auth/second-factor/passkey-options',
		call: () => ({ method: 'POST', path: '/api/auth/second-factor/passkey-options' }),
		public: 'the second step of signing in, with the pending sign-in cookie instead of a session (passkeys.test.ts)'
	},
	{ route: 'POST /api/auth/passkey/options', call: () => ({ method: 'POST', path: '/api/auth/passkey/options' }), public: 'signing in with a passkey starts before any session' },
	{
		route: 'POST /api/auth/passkey',
		call: () => ({ method: 'POST', path: '/api/auth/passkey', body: { response: {} } }),
		public: 'signing in with a passkey (the answer must match this browser\'s challenge; passkeys.test.ts)'
	},
	{
		route: 'POST /api/auth/second-factor',
		call: () => ({ method: 'POST', path: '/api/auth/second-factor', body: { code: '123456' } }),
		public: 'the second step of signing in, before any session (it needs the pending sign-in cookie instead; two-factor.test.ts)'
	},
	{ route: 'POST /api/auth/sign-out', call: () => ({ method: 'POST', path: '/api/auth/sign-out' }), public: 'signing out twice is harmless' },
	{
		route: 'POST /api/invites/[code]/guest',
		call: (f) => ({ method: 'POST', path: `/api/invites/${f.inviteCode}/guest`, body: { displayName: 'Visitor' } }),
		public: 'a visitor joins as a guest (refused while guest access is off, as here)'
	},
	{ route: 'GET /api/invites/[code]', call: (f) => ({ method: 'GET', path: `/api/invites/${f.inviteCode}` }), public: 'the invite landing page previews before sign-in' },

	{ route: 'GET /api/me', call: () => ({ method: 'GET', path: '/api/me' }) },
	{ route: 'PATCH /api/me', call: () => ({ method: 'PATCH', path: '/api/me', body: { displayName: 'Nope' } }) },
	// Profiles (profiles.test.ts): one's own, and those of people one shares a community or DM with.
	{ route: 'GET /api/me/profile', call: () => ({ method: 'GET', path: '/api/me/profile' }) },
	{ route: 'PATCH /api/me/profile', call: () => ({ method: 'PATCH', path: '/api/me/profile', body: { bio: 'Nope' } }) },
	{ route: 'PUT /api/me/avatar', call: () => ({ method: 'PUT', path: '/api/me/avatar', body: {} }) },
	{ route: 'DELETE /api/me/avatar', call: () => ({ method: 'DELETE', path: '/api/me/avatar' }) },
	{ route: 'PUT /api/me/status', call: () => ({ method: 'PUT', path: '/api/me/status', body: { text: 'Nope', expiresAt: null } }) },
	{ route: 'DELETE /api/me/status', call: () => ({ method: 'DELETE', path: '/api/me/status' }) },
	{
		route: 'GET /api/users/[id]/profile',
		call: (f) => ({ method: 'GET', path: `/api/users/${f.ownerId}/profile` }),
		hidden: {
			missing: () => ({ method: 'GET', path: `/api/users/${MISSING_ID}/profile` }),
			malformed: () => ({ method: 'GET', path: `/api/users/${MALFORMED}/profile` }),
			message: 'User was not found.'
		}
	},
	{
		route: 'GET /api/users/[id]/avatar',
		call: (f) => ({ method: 'GET', path: `/api/users/${f.ownerId}/avatar` }),
		hidden: {
			missing: () => ({ method: 'GET', path: `/api/users/${MISSING_ID}/avatar` }),
			malformed: () => ({ method: 'GET', path: `/api/users/${MALFORMED}/avatar` }),
			message: 'User was not found.'
		}
	},
	{ route: 'POST /api/me/password', call: () => ({ method: 'POST', path: '/api/me/password', body: { currentPassword: 'x', newPassword: 'long enough password' } }) },
	{ route: 'GET /api/me/sessions', call: () => ({ method: 'GET', path: '/api/me/sessions' }) },
	{ route: 'POST /api/me/sessions/revoke-others', call: () => ({ method: 'POST', path: '/api/me/sessions/revoke-others' }) },
	{ route: 'GET /api/me/notifications', call: () => ({ method: 'GET', path: '/api/me/notifications' }) },
	{ route: 'PUT /api/me/notifications/quiet', call: () => ({ method: 'PUT', path: '/api/me/notifications/quiet', body: { until: null } }) },
	{
		route: 'PUT /api/me/notifications/levels/[targetId]',
		call: (f) => ({ method: 'PUT', path: `/api/me/notifications/levels/${f.channelId}`, body: { level: 'all' } }),
		hidden: {
			missing: () => ({ method: 'PUT', path: `/api/me/notifications/levels/${MISSING_ID}`, body: { level: 'all' } }),
			malformed: () => ({ method: 'PUT', path: `/api/me/notifications/levels/${MALFORMED}`, body: { level: 'all' } }),
			message: 'Community or channel was not found.'
		}
	},
	{ route: 'PUT /api/me/push-subscription', call: () => ({ method: 'PUT', path: '/api/me/push-subscription', body: { endpoint: 'https://fcm.googleapis.com/fcm/send/x', keys: { p256dh: 'B'.repeat(87), auth: 'A'.repeat(22) } } }) },
	{ route: 'DELETE /api/me/push-subscription', call: () => ({ method: 'DELETE', path: '/api/me/push-subscription' }) },
	{ route: 'GET /api/me/passkeys', call: () => ({ method: 'GET', path: '/api/me/passkeys' }) },
	{ route: 'POST /api/me/passkeys', call: () => ({ method: 'POST', path: '/api/me/passkeys', body: { name: 'x', response: {} } }) },
	{ route: 'POST /api/me/passkeys/options', call: () => ({ method: 'POST', path: '/api/me/passkeys/options', body: { password: 'correct horse battery staple' } }) },
	{ route: 'DELETE /api/me/passkeys/[id]', call: () => ({ method: 'DELETE', path: '/api/me/passkeys/AAAA', body: { password: 'correct horse battery staple' } }) },
	{ route: 'GET /api/me/two-factor', call: () => ({ method: 'GET', path: '/api/me/two-factor' }) },
	{ route: 'DELETE /api/me/two-factor', call: () => ({ method: 'DELETE', path: '/api/me/two-factor', body: { password: 'correct horse battery staple' } }) },
	{ route: 'POST /api/me/two-factor/totp', call: () => ({ method: 'POST', path: '/api/me/two-factor/totp', body: { password: 'correct horse battery staple' } }) },
	{ route: 'POST /api/me/two-factor/totp/confirm', call: () => ({ method: 'POST', path: '/api/me/two-factor/totp/confirm', body: { code: '123456' } }) },
	{ route: 'POST /api/me/two-factor/recovery-codes', call: () => ({ method: 'POST', path: '/api/me/two-factor/recovery-codes', body: { password: 'correct horse battery staple' } }) },
	{
		route: 'DELETE /api/me/sessions/[id]',
		call: (f) => ({ method: 'DELETE', path: `/api/me/sessions/${f.ownerSessionId}` }),
		hidden: {
			missing: () => ({ method: 'DELETE', path: `/api/me/sessions/${'0'.repeat(64)}` }),
			malformed: () => ({ method: 'DELETE', path: `/api/me/sessions/${MALFORMED}` }),
			message: 'Session was not found.'
		}
	},

	// End-to-end encryption: devices, prekeys, the to-device queue, the key backup, attachments.
	{ route: 'GET /api/devices', call: () => ({ method: 'GET', path: '/api/devices' }) },
	{ route: 'POST /api/devices', call: () => ({ method: 'POST', path: '/api/devices', body: registrationBody(registration()) }) },
	{ route: 'GET /api/devices/current', call: () => ({ method: 'GET', path: '/api/devices/current' }) },
	{ route: 'POST /api/devices/current/one-time-prekeys', call: () => ({ method: 'POST', path: '/api/devices/current/one-time-prekeys', body: { oneTimePrekeys: oneTimePrekeys(1, 9000) } }) },
	{ route: 'PUT /api/devices/current/signed-prekey', call: () => ({ method: 'PUT', path: '/api/devices/current/signed-prekey', body: { signedPrekey: signedPrekey(identity()) } }) },
	{
		route: 'PATCH /api/devices/[id]',
		call: (f) => ({ method: 'PATCH', path: `/api/devices/${f.ownerDeviceId}`, body: { name: 'Nope' } }),
		hidden: {
			missing: () => ({ method: 'PATCH', path: `/api/devices/${MISSING_ID}`, body: { name: 'Nope' } }),
			malformed: () => ({ method: 'PATCH', path: `/api/devices/${MALFORMED}`, body: { name: 'Nope' } }),
			message: 'Device was not found.'
		}
	},
	{
		route: 'DELETE /api/devices/[id]',
		call: (f) => ({ method: 'DELETE', path: `/api/devices/${f.ownerDeviceId}` }),
		hidden: {
			missing: () => ({ method: 'DELETE', path: `/api/devices/${MISSING_ID}` }),
			malformed: () => ({ method: 'DELETE', path: `/api/devices/${MALFORMED}` }),
			message: 'Device was not found.'
		}
	},
	{
		route: 'GET /api/users/[id]/devices',
		call: (f) => ({ method: 'GET', path: `/api/users/${f.ownerId}/devices` }),
		hidden: {
			missing: () => ({ method: 'GET', path: `/api/users/${MISSING_ID}/devices` }),
			malformed: () => ({ method: 'GET', path: `/api/users/${MALFORMED}/devices` }),
			message: 'User was not found.'
		}
	},
	// Anyone may block anyone (a stranger who found you too): only sign-in is required (blocks.test.ts).
	{ route: 'PUT /api/users/[id]/block', call: (f) => ({ method: 'PUT', path: `/api/users/${f.ownerId}/block` }) },
	{ route: 'DELETE /api/users/[id]/block', call: (f) => ({ method: 'DELETE', path: `/api/users/${f.ownerId}/block` }) },
	{ route: 'GET /api/me/blocks', call: () => ({ method: 'GET', path: '/api/me/blocks' }) },
	// Invisible devices are left out of the answer (tested in e2ee-server.test.ts), not refused.
	{ route: 'POST /api/keys/claim', call: (f) => ({ method: 'POST', path: '/api/keys/claim', body: { devices: [f.ownerDeviceId] } }) },
	{ route: 'POST /api/to-device', call: (f) => ({ method: 'POST', path: '/api/to-device', body: { messages: [{ deviceId: f.ownerDeviceId, body: 'x' }] } }) },
	{ route: 'GET /api/to-device', call: () => ({ method: 'GET', path: '/api/to-device' }) },
	{ route: 'POST /api/to-device/ack', call: () => ({ method: 'POST', path: '/api/to-device/ack', body: { upTo: 0 } }) },
	{ route: 'GET /api/key-backup', call: () => ({ method: 'GET', path: '/api/key-backup' }) },
	{
		route: 'PUT /api/key-backup',
		call: () => ({
			method: 'PUT',
			path: '/api/key-backup',
			body: { version: 1, params: { alg: 'argon2id13', salt: 'AAAAAAAAAAAAAAAAAAAAAA', opsLimit: 3, memLimit: 268435456 }, wrappedKey: 'AAAA' }
		})
	},
	{ route: 'DELETE /api/key-backup', call: () => ({ method: 'DELETE', path: '/api/key-backup' }) },
	{ route: 'GET /api/key-backup/entries', call: () => ({ method: 'GET', path: '/api/key-backup/entries' }) },
	{ route: 'PUT /api/key-backup/entries', call: () => ({ method: 'PUT', path: '/api/key-backup/entries', body: { version: 1, entries: [{ id: 'sk:x', ciphertext: 'AAAA' }] } }) },
	{
		route: 'GET /api/attachments/[id]',
		call: (f) => ({ method: 'GET', path: `/api/attachments/${f.attachmentId}` }),
		hidden: {
			missing: () => ({ method: 'GET', path: `/api/attachments/${MISSING_ID}` }),
			malformed: () => ({ method: 'GET', path: `/api/attachments/${MALFORMED}` }),
			message: 'Attachment was not found.'
		}
	},

	{
		route: 'PATCH /api/instance',
		call: () => ({ method: 'PATCH', path: '/api/instance', body: { registrationMode: 'closed' } }),
		memberRefused: { status: 403, code: 'forbidden', message: INSTANCE_ADMINS_ONLY }
	},
	{ route: 'GET /api/admin/invites', call: () => ({ method: 'GET', path: '/api/admin/invites' }), memberRefused: { status: 403, code: 'forbidden', message: INSTANCE_ADMINS_ONLY } },
	{ route: 'POST /api/admin/invites', call: () => ({ method: 'POST', path: '/api/admin/invites', body: {} }), memberRefused: { status: 403, code: 'forbidden', message: INSTANCE_ADMINS_ONLY } },
	{ route: 'GET /api/admin/settings', call: () => ({ method: 'GET', path: '/api/admin/settings' }), memberRefused: { status: 403, code: 'forbidden', message: INSTANCE_ADMINS_ONLY } },
	{
		route: 'PATCH /api/admin/settings',
		call: () => ({ method: 'PATCH', path: '/api/admin/settings', body: { name: 'Taken over' } }),
		memberRefused: { status: 403, code: 'forbidden', message: INSTANCE_ADMINS_ONLY }
	},
	{ route: 'PUT /api/admin/icon', call: () => ({ method: 'PUT', path: '/api/admin/icon', body: {} }), memberRefused: { status: 403, code: 'forbidden', message: INSTANCE_ADMINS_ONLY } },
	{ route: 'DELETE /api/admin/icon', call: () => ({ method: 'DELETE', path: '/api/admin/icon' }), memberRefused: { status: 403, code: 'forbidden', message: INSTANCE_ADMINS_ONLY } },
	{ route: 'GET /api/admin/users', call: () => ({ method: 'GET', path: '/api/admin/users' }), memberRefused: { status: 403, code: 'forbidden', message: INSTANCE_ADMINS_ONLY } },
	{
		route: 'PATCH /api/admin/users/[id]',
		call: (f) => ({ method: 'PATCH', path: `/api/admin/users/${f.ownerId}`, body: { disabled: true, password: 'correct horse battery staple' } }),
		memberRefused: { status: 403, code: 'forbidden', message: INSTANCE_ADMINS_ONLY }
	},
	{
		route: 'DELETE /api/admin/users/[id]',
		call: (f) => ({ method: 'DELETE', path: `/api/admin/users/${f.ownerId}`, body: { password: 'correct horse battery staple' } }),
		memberRefused: { status: 403, code: 'forbidden', message: INSTANCE_ADMINS_ONLY }
	},
	{
		route: 'POST /api/admin/users/[id]/revoke-sessions',
		call: (f) => ({ method: 'POST', path: `/api/admin/users/${f.ownerId}/revoke-sessions` }),
		memberRefused: { status: 403, code: 'forbidden', message: INSTANCE_ADMINS_ONLY }
	},
	{
		route: 'DELETE /api/admin/users/[id]/two-factor',
		call: (f) => ({ method: 'DELETE', path: `/api/admin/users/${f.ownerId}/two-factor`, body: { password: 'correct horse battery staple' } }),
		memberRefused: { status: 403, code: 'forbidden', message: INSTANCE_ADMINS_ONLY }
	},
	{ route: 'GET /api/admin/audit-log', call: () => ({ method: 'GET', path: '/api/admin/audit-log' }), memberRefused: { status: 403, code: 'forbidden', message: INSTANCE_ADMINS_ONLY } },

	{ route: 'GET /api/communities', call: () => ({ method: 'GET', path: '/api/communities' }) },
	{ route: 'POST /api/communities', call: () => ({ method: 'POST', path: '/api/communities', body: { name: 'Nope' } }) },
	...communityRoutes(),

	...channelRoutes(),
	{ route: 'GET /api/dms', call: () => ({ method: 'GET', path: '/api/dms' }) },
	{
		route: 'POST /api/dms',
		call: (f) => ({ method: 'POST', path: '/api/dms', body: { userId: f.ownerId } }),
		hidden: {
			missing: () => ({ method: 'POST', path: '/api/dms', body: { userId: MISSING_ID } }),
			message: 'User was not found.'
		}
	},

	{
		route: 'DELETE /api/invites/[code]',
		call: (f) => ({ method: 'DELETE', path: `/api/invites/${f.inviteCode}` }),
		hidden: {
			missing: () => ({ method: 'DELETE', path: '/api/invites/abcdefghij' }),
			malformed: () => ({ method: 'DELETE', path: '/api/invites/no!' }),
			message: 'Invite was not found.'
		},
		memberRefused: needs('Manage invites')
	},
	// Anyone signed in may accept an invite (that is its purpose); only the code's shape is checked here.
	{
		route: 'POST /api/invites/[code]/accept',
		call: () => ({ method: 'POST', path: '/api/invites/abcdefghij/accept' })
	},

	...messageRoutes(),
	...threadRoutes(),
	{
		route: 'POST /api/messages/[id]/report',
		call: (f) => ({ method: 'POST', path: `/api/messages/${f.messageId}/report`, body: { reason: 'matrix', forwardedContent: 'owner speaking' } }),
		hidden: {
			missing: () => ({ method: 'POST', path: `/api/messages/${MISSING_ID}/report`, body: { reason: 'matrix', forwardedContent: 'x' } }),
			malformed: () => ({ method: 'POST', path: `/api/messages/${MALFORMED}/report`, body: { reason: 'matrix', forwardedContent: 'x' } }),
			message: 'Message was not found.'
		}
	},
	{
		route: 'POST /api/reports/[id]/resolve',
		call: (f) => ({ method: 'POST', path: `/api/reports/${f.reportId}/resolve`, body: { status: 'dismissed' } }),
		hidden: {
			missing: () => ({ method: 'POST', path: `/api/reports/${MISSING_ID}/resolve`, body: { status: 'dismissed' } }),
			malformed: () => ({ method: 'POST', path: `/api/reports/${MALFORMED}/resolve`, body: { status: 'dismissed' } }),
			message: 'Report was not found.'
		},
		memberRefused: needs("Delete others' messages")
	}
];

function communityRoutes(): Row[] {
	const hidden = (method: string, suffix: string, body?: unknown) => ({
		missing: () => ({ method, path: `/api/communities/${MISSING_ID}${suffix}`, body }),
		malformed: () => ({ method, path: `/api/communities/${MALFORMED}${suffix}`, body }),
		message: 'Community was not found.'
	});
	const row = (method: string, suffix: string, body?: unknown, memberRefused?: Refusal): Row => ({
		route: `${method} /api/communities/[id]${suffix}`,
		call: (f) => ({ method, path: `/api/communities/${f.communityId}${suffix}`, body }),
		hidden: hidden(method, suffix, body),
		...(memberRefused ? { memberRefused } : {})
	});
	/** Routes with a second id (a member, a role); the fixture fills it in. */
	const nested = (method: string, route: string, path: (f: Fixture) => string, body: ((f: Fixture) => unknown) | undefined, memberRefused: Refusal): Row => ({
		route: `${method} /api/communities/[id]${route}`,
		call: (f) => ({ method, path: `/api/communities/${f.communityId}${path(f)}`, body: body?.(f) }),
		hidden: {
			missing: (f) => ({ method, path: `/api/communities/${MISSING_ID}${path(f)}`, body: body?.(f) }),
			malformed: (f) => ({ method, path: `/api/communities/${MALFORMED}${path(f)}`, body: body?.(f) }),
			message: 'Community was not found.'
		},
		memberRefused
	});
	// Moderation rows aim at the community owner: run by the owner (the malformed-body checks) they
	// are refused as "yourself", so the matrix never removes anyone.
	return [
		row('GET', ''),
		row('PATCH', '', { name: 'Renamed' }, needs('Manage community')),
		row('DELETE', '', undefined, { status: 403, code: 'forbidden', message: OWNER_ONLY }),
		row('GET', '/channels'),
		row('POST', '/channels', { name: 'sneaky' }, needs('Manage channels')),
		nested('PUT', '/channels/order', () => '/channels/order', (f) => ({ channelIds: [f.channelId] }), needs('Manage channels')),
		row('GET', '/invites'),
		row('POST', '/invites', {}),
		row('GET', '/members'),
		nested('PATCH', '/members/[userId]', (f) => `/members/${f.ownerId}`, () => ({ role: 'member' }), needs('Manage roles')),
		nested('POST', '/members/[userId]/kick', (f) => `/members/${f.ownerId}/kick`, () => ({ reason: 'matrix' }), needs('Kick members')),
		nested('POST', '/members/[userId]/timeout', (f) => `/members/${f.ownerId}/timeout`, () => ({ minutes: 5, reason: 'matrix' }), needs('Time out members')),
		row('GET', '/bans', undefined, needs('Ban members')),
		nested('POST', '/bans', () => '/bans', (f) => ({ userId: f.ownerId, reason: 'matrix' }), needs('Ban members')),
		nested('DELETE', '/bans/[userId]', (f) => `/bans/${f.ownerId}`, undefined, needs('Ban members')),
		row('GET', '/roles'),
		row('POST', '/roles', { name: 'sneaky', permissions: [] }, needs('Manage roles')),
		nested('PATCH', '/roles/[roleId]', (f) => `/roles/${f.roleId}`, () => ({ name: 'renamed' }), needs('Manage roles')),
		nested('DELETE', '/roles/[roleId]', (f) => `/roles/${f.roleId}`, undefined, needs('Manage roles')),
		// Custom emoji (custom-emoji.test.ts): members see them, those who manage the community change them.
		row('GET', '/emoji'),
		nested('POST', '/emoji', () => '/emoji?name=sneaky', () => ({}), needs('Manage community')),
		{
			route: 'GET /api/communities/[id]/emoji/[emojiId]',
			call: (f) => ({ method: 'GET', path: `/api/communities/${f.communityId}/emoji/${f.emojiId}` }),
			hidden: {
				missing: (f) => ({ method: 'GET', path: `/api/communities/${MISSING_ID}/emoji/${f.emojiId}` }),
				malformed: (f) => ({ method: 'GET', path: `/api/communities/${MALFORMED}/emoji/${f.emojiId}` }),
				message: 'Community was not found.'
			}
		},
		nested('DELETE', '/emoji/[emojiId]', (f) => `/emoji/${f.emojiId}`, undefined, needs('Manage community')),
		row('GET', '/audit-log', undefined, needs('View audit log')),
		row('GET', '/reports', undefined, needs("Delete others' messages")),
		row('POST', '/leave')
	];
}

function channelRoutes(): Row[] {
	const row = (method: string, suffix: string, body?: unknown, memberRefused?: Refusal): Row => ({
		route: `${method} /api/channels/[id]${suffix}`,
		call: (f) => ({ method, path: `/api/channels/${f.channelId}${suffix}`, body }),
		hidden: {
			missing: () => ({ method, path: `/api/channels/${MISSING_ID}${suffix}`, body }),
			malformed: () => ({ method, path: `/api/channels/${MALFORMED}${suffix}`, body }),
			message: 'Channel was not found.'
		},
		...(memberRefused ? { memberRefused } : {})
	});
	return [
		row('GET', ''),
		row('PATCH', '', { topic: 'sneaky' }, needs('Manage channels')),
		row('GET', '/messages'),
		row('POST', '/messages', { clientId: 'authz-matrix-1', payload: 'x' }),
		row('POST', '/read', { seq: 1 }),
		row('GET', '/devices'),
		row('POST', '/attachments'),
		row('GET', '/pins'),
		row('GET', '/threads'),
		row('PUT', '/disappearing', { seconds: 3600 }, needs('Manage channels'))
	];
}

function messageRoutes(): Row[] {
	const row = (method: string, suffix: string, body?: unknown, memberRefused?: Refusal): Row => ({
		route: `${method} /api/messages/[id]${suffix.replace(/^\/reactions\/[^/]+$/, '/reactions/[key]')}`,
		call: (f) => ({ method, path: `/api/messages/${f.messageId}${suffix}`, body }),
		hidden: {
			missing: () => ({ method, path: `/api/messages/${MISSING_ID}${suffix}`, body }),
			malformed: () => ({ method, path: `/api/messages/${MALFORMED}${suffix}`, body }),
			message: 'Message was not found.'
		},
		...(memberRefused ? { memberRefused } : {})
	});
	return [
		row('PATCH', '', { payload: 'rewritten' }, { status: 403, code: 'forbidden', message: 'You can only edit your own messages.' }),
		row('DELETE', '', undefined, { status: 403, code: 'forbidden', message: 'You can only delete your own messages.' }),
		row('PUT', '/reactions/%F0%9F%91%8D'),
		row('DELETE', '/reactions/%F0%9F%91%8D'),
		row('GET', '/revisions'),
		row('PUT', '/pin', undefined, needs('Pin messages')),
		row('DELETE', '/pin', undefined, needs('Pin messages'))
	];
}

function threadRoutes(): Row[] {
	// A thread is named by its root message: strangers are refused like a missing message.
	const row = (method: string, suffix: string, body?: unknown): Row => ({
		route: `${method} /api/threads/[id]${suffix}`,
		call: (f) => ({ method, path: `/api/threads/${f.messageId}${suffix}`, body }),
		hidden: {
			missing: () => ({ method, path: `/api/threads/${MISSING_ID}${suffix}`, body }),
			malformed: () => ({ method, path: `/api/threads/${MALFORMED}${suffix}`, body }),
			message: 'Message was not found.'
		}
	});
	return [row('GET', ''), row('PUT', '/follow'), row('DELETE', '/follow'), row('POST', '/read', { seq: 1 })];
}

authorizationMatrix('authorization', skip, false);
authorizationMatrix('authorization against a cluster: fixtures made through node a, every request on node b', clusterUnavailableReason(), true);

function authorizationMatrix(title: string, skipReason: string | null, cluster: boolean) {
	describe.skipIf(skipReason)(title, () => {
		let db: TestDatabase;
		let server: TestServer;
		let testCluster: TestCluster;
		/** Where the requests under test go: the server itself, or node b of the cluster. */
		let asked: TestServer;
		let owner: TestClient;
		let member: TestClient;
		let stranger: TestClient;
		let f: Fixture;

		const send = (client: TestClient, call: Call) => client.send(call.method, call.path, call.body);

		beforeAll(async () => {
			if (cluster) {
				testCluster = await startTestCluster(2);
				server = testCluster.nodes[0]!;
			} else {
				db = await createTestDatabase();
				server = await startServer({ database: db });
			}
			// The first account owns the instance; keep it out of the community so roles stay apart.
			await TestClient.signUp(server);
			owner = await TestClient.signUp(server);
			member = await TestClient.signUp(server);
			stranger = await TestClient.signUp(server);
			const community = await createCommunity(owner, 'Private club');
			await joinCommunity(owner, member, community.id);
			const message = await sendMessage(owner, community.generalId, 'owner speaking');
			const invite: InviteView = await createInvite(owner, community.id);
			const { channel: dm } = await owner.api.post<{ channel: ChannelView }>('/api/dms', { userId: member.user.id });
			const { channel: voice } = await owner.api.post<{ channel: ChannelView }>(`/api/communities/${community.id}/channels`, { name: 'lounge', kind: 'voice' });
			const { sessions } = await owner.api.get<{ sessions: SessionView[] }>('/api/me/sessions');
			const { report } = await member.api.post<{ report: { id: string } }>(`/api/messages/${message.id}/report`, { reason: 'rude', forwardedContent: 'owner speaking' });
			const { role } = await owner.api.post<{ role: CustomRoleView }>(`/api/communities/${community.id}/roles`, { name: 'Helpers', permissions: ['kick'] });
			const { device } = await owner.api.post<{ device: { id: string } }>('/api/devices', registrationBody(registration()));
			const upload = await owner.fetch(`/api/channels/${community.generalId}/attachments`, {
				method: 'POST',
				headers: { 'content-type': 'application/octet-stream', 'x-csrf-token': await owner.csrfToken() },
				body: new Uint8Array(16).fill(1)
			});
			const { attachment } = (await upload.json()) as { attachment: { id: string } };
			const emojiUpload = await owner.fetch(`/api/communities/${community.id}/emoji?name=matrix`, {
				method: 'POST',
				headers: { 'content-type': 'image/png', 'x-csrf-token': await owner.csrfToken() },
				body: new Uint8Array(Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64'))
			});
			const { emoji } = (await emojiUpload.json()) as { emoji: { id: string } };
			f = {
				emojiId: emoji.id,
				ownerDeviceId: device.id,
				attachmentId: attachment.id,
				communityId: community.id,
				channelId: community.generalId,
				voiceChannelId: voice.id,
				dmChannelId: dm.id,
				messageId: message.id,
				inviteCode: invite.code,
				ownerSessionId: sessions[0]!.id,
				ownerId: owner.user.id,
				roleId: role.id,
				reportId: report.id
			};
			asked = server;
			if (cluster) {
				asked = testCluster.nodes[1]!;
				owner = onNode(owner, asked);
				member = onNode(member, asked);
				stranger = onNode(stranger, asked);
			}
		});
		afterAll(async () => {
			if (cluster) {
				await testCluster?.stop();
				return;
			}
			await server?.stop();
			await db?.drop();
		});

		describe('REST: signed-out visitors', () => {
			for (const row of rows.filter((r) => !r.public)) {
				it(`${row.route} answers 401`, async () => {
					await expectError(send(new TestClient(asked), row.call(f)), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
				});
			}
			for (const row of rows.filter((r) => r.public)) {
				it(`${row.route} is public (${row.public})`, async () => {
					const response = await send(new TestClient(asked), row.call(f));
					// Public endpoints may still refuse the request itself (a wrong password is a 401 too),
					// but never for want of a session.
					const text = await response.text();
					expect(text).not.toContain(UNAUTHENTICATED.message);
					expect(response.status).toBeLessThan(500);
				});
			}
		});

		describe('REST: a signed-in stranger is refused exactly like a missing id', () => {
			for (const row of rows.filter((r) => r.hidden)) {
				it(`${row.route} answers 404 "${row.hidden!.message}"`, async () => {
					await expectError(send(stranger, row.call(f)), 404, 'not_found', row.hidden!.message);
					await expectError(send(stranger, row.hidden!.missing(f)), 404, 'not_found', row.hidden!.message);
				});
			}
		});

		describe('REST: malformed ids are simply not found', () => {
			for (const row of rows.filter((r) => r.hidden?.malformed)) {
				it(`${row.route} answers 404 for a malformed id`, async () => {
					await expectError(send(member, row.hidden!.malformed!(f)), 404, 'not_found', row.hidden!.message);
				});
			}
		});

		describe('REST: a member without the role is refused with 403', () => {
			for (const row of rows.filter((r) => r.memberRefused)) {
				it(`${row.route} answers ${row.memberRefused!.status} "${row.memberRefused!.message}"`, async () => {
					const { status, code, message } = row.memberRefused!;
					await expectError(send(member, row.call(f)), status, code, message);
				});
			}
		});

		describe('REST: DM channels are visible to their two participants only', () => {
			it.each([
				['GET', '', undefined],
				['GET', '/messages', undefined],
				['POST', '/messages', { clientId: 'authz-matrix-dm', payload: 'x' }],
				['POST', '/read', { seq: 0 }]
			])('%s /api/channels/[dm]%s answers 404 to a third user', async (method, suffix, body) => {
				await expectError(stranger.send(method, `/api/channels/${f.dmChannelId}${suffix}`, body), 404, 'not_found', 'Channel was not found.');
			});
		});

		describe('/ws frames', () => {
			let strangerSocket: TestSocket;
			let memberSocket: TestSocket;
			beforeAll(async () => {
				strangerSocket = await stranger.socket();
				memberSocket = await member.socket();
			});
			afterAll(() => {
				strangerSocket?.close();
				memberSocket?.close();
			});

			const frames: Record<string, { stranger?: (f: Fixture) => Record<string, unknown>; missing?: () => Record<string, unknown>; message?: string; memberRefused?: (f: Fixture) => Record<string, unknown>; memberMessage?: string; note?: string }> = {
				'message.send': {
					stranger: (f) => ({ t: 'message.send', channelId: f.channelId, clientId: newClientId(), payload: encodeMessageBody('intruder') }),
					missing: () => ({ t: 'message.send', channelId: MISSING_ID, clientId: newClientId(), payload: encodeMessageBody('nowhere') }),
					message: 'Channel was not found.'
				},
				'message.edit': {
					stranger: (f) => ({ t: 'message.edit', messageId: f.messageId, payload: 'x' }),
					missing: () => ({ t: 'message.edit', messageId: MISSING_ID, payload: 'x' }),
					message: 'Message was not found.',
					memberRefused: (f) => ({ t: 'message.edit', messageId: f.messageId, payload: 'x' }),
					memberMessage: 'You can only edit your own messages.'
				},
				'message.delete': {
					stranger: (f) => ({ t: 'message.delete', messageId: f.messageId }),
					missing: () => ({ t: 'message.delete', messageId: MISSING_ID }),
					message: 'Message was not found.',
					memberRefused: (f) => ({ t: 'message.delete', messageId: f.messageId }),
					memberMessage: 'You can only delete your own messages.'
				},
				'reaction.add': {
					stranger: (f) => ({ t: 'reaction.add', messageId: f.messageId, key: '👍' }),
					missing: () => ({ t: 'reaction.add', messageId: MISSING_ID, key: '👍' }),
					message: 'Message was not found.'
				},
				'reaction.remove': {
					stranger: (f) => ({ t: 'reaction.remove', messageId: f.messageId, key: '👍' }),
					missing: () => ({ t: 'reaction.remove', messageId: MISSING_ID, key: '👍' }),
					message: 'Message was not found.'
				},
				'message.pin': {
					stranger: (f) => ({ t: 'message.pin', messageId: f.messageId }),
					missing: () => ({ t: 'message.pin', messageId: MISSING_ID }),
					message: 'Message was not found.',
					memberRefused: (f) => ({ t: 'message.pin', messageId: f.messageId }),
					memberMessage: needs('Pin messages').message
				},
				'message.unpin': {
					stranger: (f) => ({ t: 'message.unpin', messageId: f.messageId }),
					missing: () => ({ t: 'message.unpin', messageId: MISSING_ID }),
					message: 'Message was not found.',
					memberRefused: (f) => ({ t: 'message.unpin', messageId: f.messageId }),
					memberMessage: needs('Pin messages').message
				},
				read: {
					stranger: (f) => ({ t: 'read', channelId: f.channelId, seq: 1 }),
					missing: () => ({ t: 'read', channelId: MISSING_ID, seq: 1 }),
					message: 'Channel was not found.'
				},
				resume: { note: 'a stranger\'s cursors come back as "inaccessible" (tested below)' },
				typing: { note: "a stranger's typing is dropped without an answer (ws-presence-typing.test.ts)" },
				presence: { note: 'about the sender only; no resource to authorize' },
				'presence.set': { note: "the sender's own choice; no resource to authorize (profiles.test.ts)" },
				ping: { note: 'no resource to authorize' },
				// Refused before any worker is involved, so these run with or without a mediasoup worker.
				'call.join': {
					stranger: (f) => ({ t: 'call.join', channelId: f.voiceChannelId }),
					missing: () => ({ t: 'call.join', channelId: MISSING_ID }),
					message: 'Channel was not found.'
				},
				'call.moderate': {
					stranger: (f) => ({ t: 'call.moderate', channelId: f.voiceChannelId, userId: f.ownerId, action: 'remove' }),
					missing: () => ({ t: 'call.moderate', channelId: MISSING_ID, userId: MISSING_ID, action: 'remove' }),
					message: 'Channel was not found.',
					memberRefused: (f) => ({ t: 'call.moderate', channelId: f.voiceChannelId, userId: f.ownerId, action: 'mute' }),
					memberMessage: needs('Time out members').message
				},
				...Object.fromEntries(
					(['call.leave', 'call.transport.create', 'call.transport.connect', 'call.produce', 'call.producer.close', 'call.producer.pause', 'call.producer.resume', 'call.consume', 'call.consumer.resume', 'call.consumer.layers', 'call.transport.restartIce'] as const).map((type) => [
						type,
						{ note: 'acts only on the sender\'s own call peer (names no channel); not_in_call before call.join (calls.test.ts)' }
					])
				)
			};

			for (const [type, spec] of Object.entries(frames).filter(([, s]) => s.stranger)) {
				it(`${type} from a stranger answers not_found "${spec.message}", like a missing id`, async () => {
					const answer = await strangerSocket.request(spec.stranger!(f));
					expect(answer).toEqual({ t: 'error', id: expect.any(String), code: 'not_found', message: spec.message });
					const missing = await strangerSocket.request(spec.missing!());
					expect(missing).toEqual({ t: 'error', id: expect.any(String), code: 'not_found', message: spec.message });
				});
			}

			for (const [type, spec] of Object.entries(frames).filter(([, s]) => s.memberRefused)) {
				it(`${type} on someone else's message from a member answers forbidden "${spec.memberMessage}"`, async () => {
					const answer = await memberSocket.request(spec.memberRefused!(f));
					expect(answer).toEqual({ t: 'error', id: expect.any(String), code: 'forbidden', message: spec.memberMessage });
				});
			}

			it('message.send of a thread reply from a stranger answers not_found like a missing channel (same access as posting)', async () => {
				const reply = { t: 'message.send', channelId: f.channelId, clientId: newClientId(), payload: encodeMessageBody('intruder'), threadRootId: f.messageId };
				expect(await strangerSocket.request(reply)).toEqual({ t: 'error', id: expect.any(String), code: 'not_found', message: 'Channel was not found.' });
				const missing = { ...reply, channelId: MISSING_ID, threadRootId: MISSING_ID };
				expect(await strangerSocket.request(missing)).toEqual({ t: 'error', id: expect.any(String), code: 'not_found', message: 'Channel was not found.' });
			});

			it("resume lists a stranger's channels as inaccessible and replays nothing", async () => {
				const before = strangerSocket.frames.length;
				const answer = await strangerSocket.request({ t: 'resume', cursors: [{ channelId: f.channelId, seq: 0 }, { channelId: f.dmChannelId, seq: 0 }, { channelId: MISSING_ID, seq: 0 }] });
				expect(answer).toEqual({ t: 'ack', id: expect.any(String), result: { resync: [], inaccessible: [f.channelId, f.dmChannelId, MISSING_ID] } });
				expect(strangerSocket.frames.slice(before).filter((fr) => fr.t === 'events' || fr.t === 'resync')).toEqual([]);
			});

			it('every client frame type has a row in this matrix', () => {
				expect(Object.keys(frames).sort()).toEqual(Object.keys(clientFrames).sort());
			});
		});

		// Parsing is each node's own: checked once, on the single server.
		if (cluster) return;

		describe('REST: malformed input never causes a 500', () => {
			const bodies: Array<[string, string | undefined]> = [
				['no body', undefined],
				['null', 'null'],
				['an array', '[1,2]'],
				['a number', '42'],
				['a string', '"text"'],
				['an empty object', '{}'],
				['wrong types everywhere', JSON.stringify({ name: 1, payload: {}, seq: 'x', userId: [], clientId: null, displayName: true, maxUses: 'many', registrationMode: 3 })],
				['huge numbers', JSON.stringify({ seq: 1e300, maxUses: 1e300, expiresInHours: 1e300 })],
				['truncated JSON', '{"name":'],
				['a NUL character in a key', '{"na\\u0000me":"x"}']
			];
			// Every route that reads a body, called by the community owner (so access checks pass and the
			// body is what gets tested).
			for (const row of rows.filter((r) => r.call(placeholder).body !== undefined)) {
				it(`${row.route}`, async () => {
					const call = row.call(f);
					const token = await owner.csrfToken();
					for (const [name, body] of bodies) {
						const response = await owner.fetch(call.path, { method: call.method, headers: { 'content-type': 'application/json', 'x-csrf-token': token }, body });
						const text = await response.text();
						expect(response.status, `${row.route} with ${name}: ${text}`).toBeLessThan(500);
					}
				});
			}
		});

		describe('REST: text with a NUL character is refused with 400 (PostgreSQL text cannot store it)', () => {
			const hasText = (body: unknown) => typeof body === 'object' && body !== null && Object.values(body).some((v) => typeof v === 'string');
			for (const row of rows.filter((r) => hasText(r.call(placeholder).body))) {
				it(`${row.route}`, async () => {
					const call = row.call(f);
					// The row's own (valid) body, with a NUL inside each string in turn.
					for (const [key, value] of Object.entries(call.body as Record<string, unknown>)) {
						if (typeof value !== 'string') continue;
						const body = { ...(call.body as object), [key]: `${value.slice(0, 1)}\u0000${value.slice(1)}` };
						await expectError(owner.send(call.method, call.path, body), 400, 'invalid', 'Text cannot contain NUL characters.');
					}
				});
			}

			it('PUT /api/messages/[id]/reactions/[key] with a NUL in the key', async () => {
				await expectError(owner.send('PUT', `/api/messages/${f.messageId}/reactions/a%00b`), 400, 'invalid', 'Text cannot contain NUL characters.');
			});
		});

		it('every REST route and method has a row in this matrix', () => {
			const found: string[] = [];
			const walk = (dir: string) => {
				for (const entry of readdirSync(dir, { withFileTypes: true })) {
					const path = join(dir, entry.name);
					if (entry.isDirectory()) walk(path);
					else if (entry.name === '+server.ts') {
						const route = '/' + relative(join(ROOT, 'src/routes'), dir).split('\\').join('/');
						for (const [, method] of readFileSync(path, 'utf8').matchAll(/export const (GET|POST|PUT|PATCH|DELETE)\b/g)) found.push(`${method} ${route}`);
					}
				}
			};
			walk(join(ROOT, 'src/routes'));
			expect(rows.map((r) => r.route).sort()).toEqual(found.sort());
		});
	});
}
