// Small builders for the states most tests start from (a community with members, a message), and
// the assertion every error test makes: the exact status and JSON error body.
import { expect } from 'vitest';
import type { CommunityDetail, InviteView, MessageView } from '#lib/shared/api-types.ts';
import { encodeMessageBody } from '#lib/shared/message-body.ts';
import { TestClient } from './clients.ts';
import type { TestServer } from './test-server.ts';

/** An id in UUID form that names nothing. */
export const MISSING_ID = '00000000-0000-4000-8000-000000000000';

export type Community = { id: string; generalId: string; detail: CommunityDetail };

export async function createCommunity(owner: TestClient, name = 'Test community'): Promise<Community> {
	const { community } = await owner.api.post<{ community: CommunityDetail }>('/api/communities', { name });
	return { id: community.id, generalId: community.channels[0]!.id, detail: community };
}

export async function createInvite(creator: TestClient, communityId: string, options: { maxUses?: number; expiresInHours?: number } = {}) {
	const { invite } = await creator.api.post<{ invite: InviteView }>(`/api/communities/${communityId}/invites`, options);
	return invite;
}

/** `member` joins through an invite created by `inviter` (a member of the community). */
export async function joinCommunity(inviter: TestClient, member: TestClient, communityId: string): Promise<void> {
	const invite = await createInvite(inviter, communityId);
	await member.api.post(`/api/invites/${invite.code}/accept`);
}

/** A signed-up owner and `memberCount` members of one new community. */
export async function communityWithMembers(server: TestServer, memberCount: number) {
	const owner = await TestClient.signUp(server);
	const community = await createCommunity(owner);
	const members: TestClient[] = [];
	for (let i = 0; i < memberCount; i += 1) {
		const member = await TestClient.signUp(server);
		await joinCommunity(owner, member, community.id);
		members.push(member);
	}
	return { owner, community, members };
}

let clientIdCounter = 0;
export function newClientId(): string {
	clientIdCounter += 1;
	return `cid-${process.pid}-${clientIdCounter}-${Math.random().toString(36).slice(2, 10)}`;
}

export async function sendMessage(author: TestClient, channelId: string, text = 'hello', clientId = newClientId()): Promise<MessageView> {
	const { message } = await author.api.post<{ message: MessageView }>(`/api/channels/${channelId}/messages`, {
		clientId,
		payload: encodeMessageBody(text)
	});
	return message;
}

/** Asserts the exact status and error body of a response. */
export async function expectError(response: Response | Promise<Response>, status: number, code: string, message: string): Promise<void> {
	const res = await response;
	const text = await res.text();
	expect({ status: res.status, body: safeJson(text) }).toEqual({ status, body: { error: { code, message } } });
}

export async function expectJson<T = unknown>(response: Response | Promise<Response>, status: number): Promise<T> {
	const res = await response;
	const text = await res.text();
	expect({ status: res.status, text: res.status === status ? '' : text }).toEqual({ status, text: '' });
	return JSON.parse(text) as T;
}

function safeJson(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return text;
	}
}

export const notFoundBody = (what: string) => ({ code: 'not_found', message: `${what} was not found.` });
export const UNAUTHENTICATED = { code: 'unauthenticated', message: 'Sign in to continue.' } as const;
