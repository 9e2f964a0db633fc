// A textarea that grows with its text up to its CSS max-height, then scrolls. Pass the bound value
// as the parameter so programmatic changes (the draft cleared after sending) resize it too.
import type { Action } from 'svelte/action';

export const autosize: Action<HTMLTextAreaElement, string | undefined> = (node) => {
	const resize = () => {
		node.style.height = 'auto';
		node.style.height = `${node.scrollHeight + (node.offsetHeight - node.clientHeight)}px`;
	};
	resize();
	node.addEventListener('input', resize);
	return {
		update: () => queueMicrotask(resize),
		destroy() {
			node.removeEventListener('input', resize);
		}
	};
};
