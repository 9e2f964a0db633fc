// Hearth's service worker: Web Push notifications that show the real sender and text, decrypted
// here with this browser's keys (src/lib/client/push/push-reader.ts), and an offline page instead of
// the browser's error when a page cannot load. It caches nothing else: the app itself always comes
// from the server, so an upgrade never leaves a stale app behind.
/// <reference no-default-lib="true"/>
/// <reference lib="esnext" />
/// <reference lib="webworker" />
import { version } from '$app/env';
import { notificationFor, parsePushPayload } from '#lib/client/push/push-reader.ts';

const sw = self as unknown as ServiceWorkerGlobalScope;
const OFFLINE_CACHE = `hearth-offline-${version}`;
const OFFLINE_URL = '/offline.html';

sw.addEventListener('install', (event) => {
	event.waitUntil(
		caches
			.open(OFFLINE_CACHE)
			.then((cache) => cache.add(OFFLINE_URL))
			.then(() => sw.skipWaiting())
	);
});

sw.addEventListener('activate', (event) => {
	event.waitUntil(
		(async () => {
			for (const key of await caches.keys()) if (key !== OFFLINE_CACHE) await caches.delete(key);
			await sw.clients.claim();
		})()
	);
});

sw.addEventListener('fetch', (event) => {
	if (event.request.mode !== 'navigate' || event.request.method !== 'GET') return;
	event.respondWith(
		fetch(event.request).catch(
			async () => (await caches.match(OFFLINE_URL)) ?? new Response('Hearth is offline.', { status: 503, headers: { 'content-type': 'text/plain; charset=utf-8' } })
		)
	);
});

sw.addEventListener('push', (event) => {
	const payload = event.data ? parsePushPayload(event.data.text()) : null;
	// A push must always show something (browsers require it); one we cannot read says so plainly.
	event.waitUntil(
		payload
			? notificationFor(payload).then(({ title, options }) => sw.registration.showNotification(title, options))
			: sw.registration.showNotification('Hearth', { body: 'You have a new message.', tag: 'hearth:unknown', data: { url: '/' } })
	);
});

sw.addEventListener('notificationclick', (event) => {
	event.notification.close();
	const url = new URL((event.notification.data as { url?: string } | null)?.url ?? '/', sw.location.origin).href;
	event.waitUntil(
		(async () => {
			const windows = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true });
			const open = windows.find((w) => new URL(w.url).origin === sw.location.origin);
			if (open) {
				await open.focus();
				await open.navigate(url).catch(() => undefined);
				return;
			}
			await sw.clients.openWindow(url);
		})()
	);
});
