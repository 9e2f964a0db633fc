// Presentation helpers with no state: names, initials, colours and times as people read them.

/** Up to two letters that stand for a name ("Ana Lima" → "AL", "general" → "GE"). */
export function initials(name: string): string {
	const words = name.trim().split(/[\s_.-]+/u).filter(Boolean);
	if (words.length === 0) return '?';
	const letters = words.length === 1 ? [...words[0]!].slice(0, 2) : [[...words[0]!][0]!, [...words[1]!][0]!];
	return letters.join('').toUpperCase();
}

/** A stable hue for an id, so a person or community keeps its colour everywhere. */
export function hueFor(id: string): number {
	let hash = 0;
	for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) | 0;
	return Math.abs(hash) % 360;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const dateFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
const dateYearFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'long', day: 'numeric' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });
const shortDateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatTime(iso: string): string {
	return timeFormat.format(new Date(iso));
}

export function formatFull(iso: string): string {
	return fullFormat.format(new Date(iso));
}

const dateOnlyFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

export function formatDate(iso: string): string {
	return dateOnlyFormat.format(new Date(iso));
}

export function formatDateTime(iso: string): string {
	return shortDateFormat.format(new Date(iso));
}

export function dayKey(iso: string): string {
	const d = new Date(iso);
	return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

/** "Today", "Yesterday", "Monday, March 3" or with the year when it is not this year. */
export function dayLabel(iso: string, now = new Date()): string {
	const d = new Date(iso);
	const startOf = (x: Date) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
	const days = Math.round((startOf(now) - startOf(d)) / 86_400_000);
	if (days === 0) return 'Today';
	if (days === 1) return 'Yesterday';
	return d.getFullYear() === now.getFullYear() ? dateFormat.format(d) : dateYearFormat.format(d);
}

/** "in 3 days", "5 minutes ago"... for session lists and invite expiry. */
export function relativeTime(iso: string, now = Date.now()): string {
	const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
	const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
	const abs = Math.abs(seconds);
	if (abs < 60) return rtf.format(seconds, 'second');
	if (abs < 3600) return rtf.format(Math.round(seconds / 60), 'minute');
	if (abs < 86_400) return rtf.format(Math.round(seconds / 3600), 'hour');
	return rtf.format(Math.round(seconds / 86_400), 'day');
}

/** "Ana is typing…", "Ana and Bo are typing…", "Several people are typing…". */
export function typingSentence(names: string[]): string {
	if (names.length === 0) return '';
	if (names.length === 1) return `${names[0]} is typing…`;
	if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
	if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
	return 'Several people are typing…';
}

/** A short description of a browser from its user agent ("Chromium on Linux"), for the sessions list and encryption device names. */
export function describeUserAgent(ua: string): string {
	if (!ua) return 'Unknown device';
	const browser = /Edg\//.test(ua)
		? 'Edge'
		: /OPR\//.test(ua)
			? 'Opera'
			: /Firefox\//.test(ua)
				? 'Firefox'
				: /Chromium\/|HeadlessChrome\//.test(ua)
					? 'Chromium'
					: /Chrome\//.test(ua)
						? 'Chrome'
						: /Safari\//.test(ua)
							? 'Safari'
							: /node|undici/i.test(ua)
								? 'Script'
								: 'Browser';
	const os = /Android/.test(ua)
		? 'Android'
		: /iPhone|iPad|iPod/.test(ua)
			? 'iOS'
			: /Windows/.test(ua)
				? 'Windows'
				: /Mac OS X|Macintosh/.test(ua)
					? 'macOS'
					: /CrOS/.test(ua)
						? 'ChromeOS'
						: /Linux/.test(ua)
							? 'Linux'
							: '';
	return os ? `${browser} on ${os}` : browser;
}
