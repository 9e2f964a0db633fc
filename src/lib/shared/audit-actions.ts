// The actions the audit log records, with the words the UI shows for them. Shared so the server
// writes only known actions and the page can offer them as filters.
/** Every action the log knows, so filters and the UI can name them. */
export const AUDIT_ACTIONS = {
	'community.updated': 'Changed community settings',
	'channel.created': 'Created a channel',
	'channel.updated': 'Changed a channel',
	'channel.archived': 'Archived a channel',
	'channel.unarchived': 'Restored a channel',
	'channels.reordered': 'Reordered channels',
	'role.created': 'Created a role',
	'role.updated': 'Changed a role',
	'role.deleted': 'Deleted a role',
	'member.role_changed': "Changed a member's role",
	'member.kicked': 'Kicked a member',
	'member.banned': 'Banned a user',
	'member.unbanned': 'Lifted a ban',
	'member.timed_out': 'Timed out a member',
	'member.timeout_cleared': 'Ended a timeout',
	'message.deleted': "Deleted someone's message",
	'report.resolved': 'Resolved a report',
	'report.dismissed': 'Dismissed a report',
	'instance.settings_changed': 'Changed server settings',
	'instance.icon_changed': "Changed the server's icon",
	'instance.icon_removed': "Removed the server's icon",
	'user.disabled': 'Disabled an account',
	'user.enabled': 'Re-enabled an account',
	'user.deleted': 'Deleted an account',
	'user.sessions_revoked': "Signed out all of an account's sessions",
	'user.role_changed': "Changed an account's server role",
	'user.two_factor_reset': "Reset an account's two-factor authentication",
	'two_factor.enabled': 'Turned on two-factor authentication',
	'two_factor.disabled': 'Turned off two-factor authentication',
	'two_factor.recovery_codes_regenerated': 'Made new recovery codes',
	'two_factor.recovery_code_used': 'Signed in with a recovery code',
	'invite.created': 'Created a server invite',
	'invite.revoked': 'Revoked an invite'
} as const;
export type AuditAction = keyof typeof AUDIT_ACTIONS;
