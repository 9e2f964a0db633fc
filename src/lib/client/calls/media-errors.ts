// Why a microphone, camera or screen could not be started, in words a person can act on. The
// browser says it with DOMException names (getUserMedia / getDisplayMedia), which mean the same in
// every browser; the messages say what to do next.

export type MediaInput = 'microphone' | 'camera' | 'screen';

/** null: nothing to report (the person cancelled the screen picker themselves). */
export function describeMediaFailure(input: MediaInput, error: unknown, options: { canListen?: boolean } = {}): string | null {
	const name = error instanceof Error || (typeof error === 'object' && error !== null && 'name' in error) ? String((error as { name: unknown }).name) : '';
	const listen = input === 'microphone' && options.canListen ? ' You can still listen.' : '';
	if (input === 'screen') {
		// Chromium answers NotAllowedError both for "Cancel" in its picker and for a policy block;
		// a cancel is the common case and needs no message.
		if (name === 'NotAllowedError' || name === 'AbortError') return null;
		if (name === 'NotSupportedError' || name === 'TypeError') return 'This browser cannot share the screen.';
		if (name === 'NotReadableError') return 'The screen could not be captured. On macOS, allow screen recording for the browser in System Settings → Privacy & Security.';
		return 'The screen could not be shared.';
	}
	const Input = input === 'microphone' ? 'Microphone' : 'Camera';
	switch (name) {
		case 'NotAllowedError':
		case 'SecurityError':
			return `${Input} access is blocked. Click the icon at the left of the address bar, set ${Input} to Allow, then try again.${listen}`;
		case 'NotFoundError':
		case 'OverconstrainedError':
			return `No ${input} found. Connect one (or choose another in Devices), then try again.${listen}`;
		case 'NotReadableError':
		case 'AbortError':
			return `The ${input} is in use by another application or could not start. Close the other application, then try again.${listen}`;
		default:
			return `The ${input} could not be started.${listen}`;
	}
}

/** Why the browser's speaker prompt (selectAudioOutput) gave no speaker; null when the person cancelled it. */
export function describeSpeakerPromptFailure(error: unknown): string | null {
	const name = typeof error === 'object' && error !== null && 'name' in error ? String((error as { name: unknown }).name) : '';
	switch (name) {
		case 'NotAllowedError':
		case 'AbortError':
			return null;
		case 'NotFoundError':
			return 'No speaker or headset found. Connect one, then choose it again.';
		case 'InvalidStateError':
			// selectAudioOutput needs a click (user activation); a keyboard press counts too.
			return 'The browser did not open its speaker list. Click "Choose speaker" again.';
		default:
			return 'The speaker could not be chosen.';
	}
}
