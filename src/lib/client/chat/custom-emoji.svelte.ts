// The custom emoji of the communities this page has open, loaded when first needed and again when
// the community changes (an emoji added or removed announces `community.updated`). Messages and
// reactions carry ":name:" in their encrypted text; this is how the page finds the picture.
import type { CustomEmojiList, CustomEmojiView } from '#lib/shared/custom-emoji.ts';
import type { ApiClient } from '../api.ts';

export class CommunityEmoji {
	#lists = $state<Record<string, CustomEmojiView[]>>({});
	#loading = new Map<string, Promise<void>>();
	#api: ApiClient;

	constructor(api: ApiClient) {
		this.#api = api;
	}

	/** The community's emoji (empty until loaded; loading starts here). */
	of(communityId: string | null | undefined): CustomEmojiView[] {
		if (!communityId) return [];
		if (!this.#lists[communityId]) void this.load(communityId).catch(() => {});
		return this.#lists[communityId] ?? [];
	}

	byName(communityId: string | null | undefined, name: string): CustomEmojiView | undefined {
		return this.of(communityId).find((e) => e.name === name);
	}

	load(communityId: string): Promise<void> {
		let loading = this.#loading.get(communityId);
		if (!loading) {
			loading = this.#api
				.get<CustomEmojiList>(`/api/communities/${communityId}/emoji`)
				.then(({ emoji }) => {
					this.#lists[communityId] = emoji;
				})
				.finally(() => this.#loading.delete(communityId));
			this.#loading.set(communityId, loading);
		}
		return loading;
	}

	/** Someone changed the community: reload its list if this page had it. */
	refresh(communityId: string | null): void {
		if (communityId && this.#lists[communityId]) void this.load(communityId).catch(() => {});
	}

	async add(communityId: string, name: string, picture: Blob): Promise<void> {
		await this.#api.postBytes(`/api/communities/${communityId}/emoji?name=${encodeURIComponent(name)}`, picture);
		await this.load(communityId);
	}

	async remove(communityId: string, id: string): Promise<void> {
		await this.#api.delete(`/api/communities/${communityId}/emoji/${id}`);
		await this.load(communityId);
	}
}

const CUSTOM_IN_TEXT = /:([a-z0-9_]{2,32}):/g;

/**
 * Message HTML (from renderMarkdown, where every character of the text is escaped) with ":name:"
 * of the community's emoji turned into their pictures. Only text between tags is touched, never
 * inside code; names are [a-z0-9_] and URLs come from the server's list, so nothing else can enter.
 */
export function withCustomEmoji(html: string, lookup: (name: string) => CustomEmojiView | undefined): string {
	if (!html.includes(':')) return html;
	let inCode = 0;
	return html
		.split(/(<[^>]+>)/)
		.map((part) => {
			if (part.startsWith('<')) {
				if (/^<(code|pre)\b/.test(part)) inCode++;
				else if (/^<\/(code|pre)>/.test(part)) inCode = Math.max(0, inCode - 1);
				return part;
			}
			if (inCode > 0) return part;
			return part.replace(CUSTOM_IN_TEXT, (whole, name: string) => {
				const emoji = lookup(name);
				return emoji ? `<img class="custom-emoji" src="${emoji.url}" alt=":${name}:" title=":${name}:" draggable="false">` : whole;
			});
		})
		.join('');
}
