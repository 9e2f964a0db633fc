// Shows a MediaStreamTrack in a <video> element: `<video use:mediaTrack={track}>`. Videos are
// always muted here: audio plays through CallSession's own audio elements (volume, speaker, deafen).
import type { Action } from 'svelte/action';

export const mediaTrack: Action<HTMLVideoElement, MediaStreamTrack | null> = (video, track) => {
	const show = (next: MediaStreamTrack | null) => {
		video.srcObject = next ? new MediaStream([next]) : null;
		if (next) void video.play().catch(() => {});
	};
	video.muted = true;
	show(track ?? null);
	return {
		update: (next) => show(next ?? null),
		destroy: () => {
			video.srcObject = null;
		}
	};
};
