// The browser's side of CallMedia: mediasoup-client's Device (loaded on first use, off the chat's
// critical path), getUserMedia / getDisplayMedia with the constraints calls want, <audio> elements
// for what is received (volume and speaker per stream), and the device list with its changes.
import type { CallMedia } from './call-session.svelte.ts';

function audioContainer(): HTMLElement | null {
	if (typeof document === 'undefined') return null;
	let container = document.getElementById('call-audio');
	if (!container) {
		container = document.createElement('div');
		container.id = 'call-audio';
		container.hidden = true;
		document.body.append(container);
	}
	return container;
}

export const browserCallMedia: CallMedia = {
	async createDevice() {
		const { Device } = await import('mediasoup-client');
		return new Device();
	},
	async microphone(deviceId) {
		const stream = await navigator.mediaDevices.getUserMedia({
			audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, ...(deviceId ? { deviceId: { exact: deviceId } } : {}) }
		});
		return stream.getAudioTracks()[0]!;
	},
	async camera(deviceId) {
		const stream = await navigator.mediaDevices.getUserMedia({
			video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 }, ...(deviceId ? { deviceId: { exact: deviceId } } : {}) }
		});
		return stream.getVideoTracks()[0]!;
	},
	async screen() {
		const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: true });
		return { video: stream.getVideoTracks()[0]!, audio: stream.getAudioTracks()[0] ?? null };
	},
	play(track, from) {
		const audio = new Audio();
		audio.autoplay = true;
		audio.srcObject = new MediaStream([track]);
		// In a hidden container, labelled with whose it is: the elements are the call's sound, and
		// developer tools (and the browser tests) can see each one's volume.
		audio.dataset.userId = from.userId;
		audio.dataset.source = from.source;
		audioContainer()?.append(audio);
		void audio.play().catch(() => {});
		return {
			setVolume: (volume) => (audio.volume = volume),
			setSink: async (deviceId) => {
				const element = audio as HTMLAudioElement & { setSinkId?: (id: string) => Promise<void> };
				await element.setSinkId?.(deviceId);
			},
			stop: () => {
				audio.pause();
				audio.srcObject = null;
				audio.remove();
			}
		};
	},
	async devices() {
		if (!navigator.mediaDevices?.enumerateDevices) return [];
		const all = await navigator.mediaDevices.enumerateDevices();
		return all.map((d) => ({ kind: d.kind, deviceId: d.deviceId, label: d.label }));
	},
	onDeviceChange(listener) {
		if (typeof navigator === 'undefined' || !navigator.mediaDevices) return () => {};
		navigator.mediaDevices.addEventListener('devicechange', listener);
		return () => navigator.mediaDevices.removeEventListener('devicechange', listener);
	},
	get canChooseSpeaker() {
		return typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
	},
	// Firefox (116+) has it; a speaker is then set with setSinkId only once picked here.
	...(typeof navigator !== 'undefined' && navigator.mediaDevices && 'selectAudioOutput' in navigator.mediaDevices
		? {
				async promptForSpeaker() {
					const devices = navigator.mediaDevices as MediaDevices & { selectAudioOutput(): Promise<MediaDeviceInfo> };
					const picked = await devices.selectAudioOutput();
					return { kind: 'audiooutput' as const, deviceId: picked.deviceId, label: picked.label };
				}
			}
		: {})
};
