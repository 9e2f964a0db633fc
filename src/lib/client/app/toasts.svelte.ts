// Short notices at the edge of the screen: the result of an action that has no other visible
// outcome, or the server's reason when one failed.
export type Toast = { id: number; kind: 'info' | 'error' | 'success'; text: string };

const DISMISS_AFTER_MS = { info: 4000, success: 3000, error: 7000 } as const;

class Toasts {
	items = $state<Toast[]>([]);
	#next = 0;

	show(text: string, kind: Toast['kind'] = 'info'): void {
		const id = ++this.#next;
		this.items = [...this.items.filter((t) => t.text !== text), { id, kind, text }].slice(-4);
		setTimeout(() => this.dismiss(id), DISMISS_AFTER_MS[kind]);
	}

	error(error: unknown): void {
		this.show(errorMessage(error), 'error');
	}

	dismiss(id: number): void {
		this.items = this.items.filter((t) => t.id !== id);
	}
}

/** The human-readable reason of a failed call (the server's message when there is one). */
export function errorMessage(error: unknown): string {
	if (error instanceof Error && error.message) return error.message;
	return 'Something went wrong. Please try again.';
}

export const toasts = new Toasts();
