// Shared steps for the end-to-end tests: accounts made through the API (fast) or the UI (when the
// UI is what is tested), and REST calls made with a browser context's own cookies.
import { expect, type APIRequestContext, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { encodeMessageBody } from '../../src/lib/shared/message-body.ts';

export const PASSWORD = 'correct horse battery staple';
/** The account the first-run setup creates; it owns the server. */
export const OWNER = { username: 'owner', displayName: 'Olivia Owner' };

let counter = 0;
/** A username no other test uses (the server outlives a test file). */
export function uniqueUsername(prefix: string): string {
	counter += 1;
	return `${prefix}${Date.now().toString(36).slice(-5)}${counter}`;
}

/** REST calls as the person signed in to this browser context (cookies, Origin and CSRF like the app). */
export class ContextApi {
	#request: APIRequestContext;
	#origin: string;
	#token: string | null = null;

	constructor(context: BrowserContext, origin: string) {
		this.#request = context.request;
		this.#origin = origin;
	}

	async #csrf(): Promise<string> {
		if (!this.#token) {
			const response = await this.#request.get('/api/csrf');
			this.#token = ((await response.json()) as { token: string }).token;
		}
		return this.#token;
	}

	async get<T>(path: string): Promise<T> {
		const response = await this.#request.get(path);
		expect(response.ok(), `GET ${path}: ${response.status()}`).toBeTruthy();
		return (await response.json()) as T;
	}

	async send<T>(method: 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
		const attempt = async () =>
			this.#request.fetch(path, {
				method,
				headers: { origin: this.#origin, 'x-csrf-token': await this.#csrf(), 'content-type': 'application/json' },
				data: body === undefined ? undefined : JSON.stringify(body)
			});
		let response = await attempt();
		// CSRF tokens are signed for the session they were issued in: after signing in or out the
		// app fetches a new one, and so do we.
		if (response.status() === 403 && ((await response.json()) as { error?: { code?: string } }).error?.code === 'csrf') {
			this.#token = null;
			response = await attempt();
		}
		const text = await response.text();
		expect(response.ok(), `${method} ${path}: ${response.status()} ${text}`).toBeTruthy();
		// 204 No Content has no body.
		return (text ? JSON.parse(text) : undefined) as T;
	}

	signUp(username: string, displayName: string, inviteCode?: string) {
		return this.send<{ user: { id: string }; joinedCommunityId: string | null }>('POST', '/api/auth/sign-up', {
			username,
			password: PASSWORD,
			displayName,
			...(inviteCode ? { inviteCode } : {})
		});
	}

	signIn(username: string) {
		return this.send<{ user: { id: string } }>('POST', '/api/auth/sign-in', { username, password: PASSWORD });
	}

	async createCommunity(name: string) {
		const { community } = await this.send<{ community: { id: string; systemChannelId: string } }>('POST', '/api/communities', { name });
		return community;
	}

	async createChannel(communityId: string, name: string) {
		const { channel } = await this.send<{ channel: { id: string } }>('POST', `/api/communities/${communityId}/channels`, { name });
		return channel;
	}

	async sendMessage(channelId: string, text: string) {
		return this.send('POST', `/api/channels/${channelId}/messages`, {
			clientId: `seed${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`,
			payload: encodeMessageBody(text)
		});
	}
}

export async function signInThroughUi(page: Page, username: string): Promise<void> {
	await page.goto('/sign-in');
	await page.getByLabel('Username').fill(username);
	await page.getByLabel('Password').fill(PASSWORD);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await expect(page).not.toHaveURL(/\/sign-in/);
}

/** Fills the sign-up form (on /sign-up or an invite page). */
export async function fillSignUp(page: Page, username: string, displayName: string): Promise<void> {
	await page.getByLabel('Username').fill(username);
	await page.getByLabel('Display name').fill(displayName);
	await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
	await page.getByLabel('Confirm password').fill(PASSWORD);
}

export function composer(page: Page) {
	return page.getByRole('textbox', { name: /^Message / });
}

export async function send(page: Page, text: string): Promise<void> {
	await composer(page).fill(text);
	await composer(page).press('Enter');
}

/** The message log of the open conversation. */
export function log(page: Page) {
	return page.getByRole('log');
}

/** A delivered message (not a pending one) containing the text. */
export function messageWith(page: Page, text: string) {
	return log(page).locator('article[data-message-id]', { hasText: text });
}

/** A delivered message whose whole text is exactly this. */
export function messageExactly(page: Page, text: string) {
	return log(page).locator('article[data-message-id]').filter({ has: page.locator('.markdown p').getByText(text, { exact: true }) });
}

/** Someone signed up through the API, with their own browser context (a device of their own) and a page. */
export type Person = { username: string; displayName: string; id: string; api: ContextApi; context: BrowserContext; page: Page };

export async function person(browser: Browser, baseURL: string, prefix: string, displayName: string): Promise<Person> {
	const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	const api = new ContextApi(context, baseURL);
	const username = uniqueUsername(prefix);
	const { user } = await api.signUp(username, displayName);
	const page = await context.newPage();
	return { username, displayName, id: user.id, api, context, page };
}

/** Ann and Ben, each with a browser context of their own, both members of a new community. */
export type TwoMembers = { ann: Person; ben: Person; communityId: string; generalId: string };

export async function twoMembers(browser: Browser, baseURL: string, names: { ann: string; ben: string; community: string }): Promise<TwoMembers> {
	const ann = await person(browser, baseURL, 'ann', names.ann);
	const ben = await person(browser, baseURL, 'ben', names.ben);
	const community = await ann.api.createCommunity(names.community);
	const { invite } = await ann.api.send<{ invite: { code: string } }>('POST', `/api/communities/${community.id}/invites`, {});
	await ben.api.send('POST', `/api/invites/${invite.code}/accept`);
	return { ann, ben, communityId: community.id, generalId: community.systemChannelId };
}

/** Opens a community channel and waits until its page is connected. */
export async function openChannel(page: Page, communityId: string, channelId: string): Promise<void> {
	await page.goto(`/c/${communityId}/${channelId}`);
	await expect(page.locator('[data-connection="open"]')).toBeVisible();
}
