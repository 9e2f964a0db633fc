// This browser's Web Push subscription: made with the server's VAPID key through the service
// worker's push manager, registered with the server (one per encryption device), and removed.
import type { ApiClient } from '../api.ts';

function bytesOfBase64Url(text: string): Uint8Array<ArrayBuffer> {
	const base64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
	return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

export function pushSupported(): boolean {
	return typeof navigator !== 'undefined' && 'serviceWorker' in navigator && typeof PushManager !== 'undefined' && typeof Notification !== 'undefined';
}

/** Subscribes this browser (asking for the notification permission first if needed). Throws with a readable message. */
export async function subscribeToPush(api: ApiClient, publicKey: string): Promise<void> {
	if (!pushSupported()) throw new Error('This browser cannot receive push notifications.');
	if (Notification.permission !== 'granted' && (await Notification.requestPermission()) !== 'granted') {
		throw new Error('The browser blocked notifications for this site. Allow them in the site settings, then try again.');
	}
	const registration = await navigator.serviceWorker.ready;
	let subscription = await registration.pushManager.getSubscription();
	try {
		subscription ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytesOfBase64Url(publicKey) });
	} catch {
		throw new Error('This browser could not reach its push service, so push notifications cannot be turned on here.');
	}
	await api.put('/api/me/push-subscription', subscription.toJSON());
}

export async function unsubscribeFromPush(api: ApiClient): Promise<void> {
	if (pushSupported()) {
		const registration = await navigator.serviceWorker.getRegistration();
		await (await registration?.pushManager.getSubscription())?.unsubscribe().catch(() => false);
	}
	await api.delete('/api/me/push-subscription');
}
