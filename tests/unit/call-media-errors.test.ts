// What a person reads when a microphone, camera or screen cannot start, by the browser's error
// name; and the call preferences kept in the browser (volumes per user, chosen devices).
import { describe, expect, it } from 'vitest';
import { describeMediaFailure } from '#lib/client/calls/media-errors.ts';
import { CallPreferences } from '#lib/client/calls/call-preferences.ts';

const failure = (name: string) => Object.assign(new Error('x'), { name });

describe('media errors', () => {
	it('says how to allow a blocked device, what to do without one, and when another application holds it', () => {
		expect(describeMediaFailure('camera', failure('NotAllowedError'))).toBe('Camera access is blocked. Click the icon at the left of the address bar, set Camera to Allow, then try again.');
		expect(describeMediaFailure('microphone', failure('NotFoundError'), { canListen: true })).toBe('No microphone found. Connect one (or choose another in Devices), then try again. You can still listen.');
		expect(describeMediaFailure('camera', failure('OverconstrainedError'))).toBe('No camera found. Connect one (or choose another in Devices), then try again.');
		expect(describeMediaFailure('microphone', failure('NotReadableError'))).toBe('The microphone is in use by another application or could not start. Close the other application, then try again.');
		expect(describeMediaFailure('camera', new Error('weird'))).toBe('The camera could not be started.');
	});

	it('says nothing when the person cancelled the screen picker, and explains an unsupported browser', () => {
		expect(describeMediaFailure('screen', failure('NotAllowedError'))).toBeNull();
		expect(describeMediaFailure('screen', failure('NotSupportedError'))).toBe('This browser cannot share the screen.');
	});
});

describe('call preferences', () => {
	const storage = () => {
		const values = new Map<string, string>();
		return { values, getItem: (k: string) => values.get(k) ?? null, setItem: (k: string, v: string) => void values.set(k, v), removeItem: (k: string) => void values.delete(k) };
	};

	it('keeps volumes per user between 0 and 1, storing only what differs from the default', () => {
		const store = storage();
		const preferences = new CallPreferences(store);
		expect(preferences.volume('u1')).toBe(1);
		expect(preferences.setVolume('u1', 1.7)).toBe(1);
		expect(store.values.size).toBe(0);
		expect(preferences.setVolume('u1', -1)).toBe(0);
		expect(new CallPreferences(store).volume('u1')).toBe(0);
		store.values.set('hearth:call-volume:u2', 'garbage');
		expect(preferences.volume('u2')).toBe(1);
	});

	it('remembers chosen devices, and never fails when the browser refuses storage', () => {
		const preferences = new CallPreferences(storage());
		preferences.setDevice('speaker', 'headphones');
		expect(preferences.device('speaker')).toBe('headphones');
		preferences.setDevice('speaker', null);
		expect(preferences.device('speaker')).toBeNull();
		const refusing = new CallPreferences({
			getItem: () => {
				throw new Error('SecurityError');
			},
			setItem: () => {
				throw new Error('QuotaExceededError');
			},
			removeItem: () => {
				throw new Error('SecurityError');
			}
		});
		expect(refusing.setVolume('u1', 0.5)).toBe(0.5);
		expect(refusing.volume('u1')).toBe(1);
		expect(() => refusing.setDevice('camera', 'cam')).not.toThrow();
	});
});
