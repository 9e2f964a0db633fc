// Light, dark, or whatever the system prefers. The choice is kept in localStorage and applied as
// data-theme on <html>; app.html applies it before the first paint so there is no flash.
export type ThemeChoice = 'system' | 'light' | 'dark';

export const THEME_STORAGE_KEY = 'hearth:theme';

class ThemePreference {
	choice = $state<ThemeChoice>('system');

	constructor() {
		if (typeof localStorage === 'undefined') return;
		try {
			const stored = localStorage.getItem(THEME_STORAGE_KEY);
			if (stored === 'light' || stored === 'dark') this.choice = stored;
		} catch {
			// Storage disabled: follow the system.
		}
	}

	set(choice: ThemeChoice): void {
		this.choice = choice;
		try {
			if (choice === 'system') localStorage.removeItem(THEME_STORAGE_KEY);
			else localStorage.setItem(THEME_STORAGE_KEY, choice);
		} catch {
			// Not persisted; still applied for this page.
		}
		if (choice === 'system') delete document.documentElement.dataset.theme;
		else document.documentElement.dataset.theme = choice;
	}
}

export const theme = new ThemePreference();
