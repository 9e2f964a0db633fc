// Remembered layout choices: whether the member list is shown beside conversations (on desktop;
// on phones it is a drawer that starts closed).
import { phone } from './viewport.svelte.ts';

const MEMBERS_KEY = 'hearth:members-visible';

class LayoutPrefs {
	#membersDesktop = $state(true);
	#membersPhone = $state(false);

	constructor() {
		if (typeof localStorage === 'undefined') return;
		try {
			this.#membersDesktop = localStorage.getItem(MEMBERS_KEY) !== 'false';
		} catch {
			// default
		}
	}

	get membersVisible(): boolean {
		return phone.current ? this.#membersPhone : this.#membersDesktop;
	}

	set membersVisible(visible: boolean) {
		if (phone.current) {
			this.#membersPhone = visible;
			return;
		}
		this.#membersDesktop = visible;
		try {
			localStorage.setItem(MEMBERS_KEY, String(visible));
		} catch {
			// not remembered
		}
	}
}

export const layoutPrefs = new LayoutPrefs();
