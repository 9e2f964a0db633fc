// Settings → Devices: this account's encryption devices (one per signed-in browser), with the
// current one marked; each can be renamed or removed. Removing a device revokes its keys and signs
// out its session; removing this browser's own device signs it out here.
import type { OwnDeviceView } from '#lib/shared/e2ee.ts';
import type { E2eeServerApi } from '../e2ee/server-api.ts';
import { toasts } from '../app/toasts.svelte.ts';

export class DeviceSettings {
	devices = $state<OwnDeviceView[]>([]);
	loading = $state(true);
	busy = $state(false);
	#server: E2eeServerApi;
	#onSignedOut: () => void;

	constructor(server: E2eeServerApi, onSignedOut: () => void) {
		this.#server = server;
		this.#onSignedOut = onSignedOut;
	}

	async load(): Promise<void> {
		try {
			const devices = await this.#server.listOwnDevices();
			this.devices = devices.toSorted((a, b) => Number(b.current) - Number(a.current) || b.lastSeenAt.localeCompare(a.lastSeenAt));
		} catch (error) {
			toasts.error(error);
		} finally {
			this.loading = false;
		}
	}

	async rename(deviceId: string, name: string): Promise<boolean> {
		this.busy = true;
		try {
			const device = await this.#server.renameDevice(deviceId, name);
			this.devices = this.devices.map((d) => (d.id === deviceId ? device : d));
			toasts.show('Device renamed.', 'success');
			return true;
		} catch (error) {
			toasts.error(error);
			return false;
		} finally {
			this.busy = false;
		}
	}

	async remove(deviceId: string): Promise<void> {
		const current = this.devices.find((d) => d.id === deviceId)?.current ?? false;
		this.busy = true;
		try {
			await this.#server.removeDevice(deviceId);
			this.devices = this.devices.filter((d) => d.id !== deviceId);
			if (current) {
				this.#onSignedOut();
				return;
			}
			toasts.show('That device was removed and signed out. It can no longer read new messages.', 'success');
		} catch (error) {
			toasts.error(error);
		} finally {
			this.busy = false;
		}
	}
}
