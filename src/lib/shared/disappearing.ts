// Disappearing messages: the timers a conversation can have, as people name them. Messages sent
// while a timer is set are deleted by the server that long after they were sent.

/** Seconds; 0 is off. The choices people know from other chats, up to four weeks. */
export const DISAPPEARING_CHOICES = [0, 3600, 86_400, 604_800, 2_419_200] as const;
export type DisappearingSeconds = (typeof DISAPPEARING_CHOICES)[number];

const LABELS: Record<DisappearingSeconds, string> = { 0: 'Off', 3600: '1 hour', 86_400: '1 day', 604_800: '1 week', 2_419_200: '4 weeks' };

export function isDisappearingChoice(seconds: number): seconds is DisappearingSeconds {
	return (DISAPPEARING_CHOICES as readonly number[]).includes(seconds);
}

/** "1 day"; "Off" for 0; a plain count of seconds for anything unexpected. */
export function disappearingLabel(seconds: number): string {
	return isDisappearingChoice(seconds) ? LABELS[seconds] : `${seconds} seconds`;
}
