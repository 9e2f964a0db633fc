// Which of the app's dialogs is open. Any component can open one; the shell renders them all once.
class Dialogs {
	createCommunity = $state(false);
	joinInvite = $state(false);
	/** Community to create a channel in. */
	createChannel = $state<string | null>(null);
	/** Channel whose name and topic are being edited. */
	editChannel = $state<string | null>(null);
	/** Community to invite people to. */
	invite = $state<string | null>(null);
	/** Channel whose disappearing-messages timer is shown. */
	disappearing = $state<string | null>(null);
	/** Channel whose followed threads are listed. */
	threads = $state<string | null>(null);
	/** Channel whose pinned messages are listed. */
	pinned = $state<string | null>(null);
	/** Contact whose safety number is shown (opened from a DM header or a member card). */
	safetyNumber = $state<{ userId: string; name: string } | null>(null);
}

export const dialogs = new Dialogs();
