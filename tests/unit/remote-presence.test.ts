// Presence of people on other cluster nodes (server/realtime/remote-presence.ts): online on any node
// is online, a node's full announcement replaces what was known of it, and a node that leaves takes
// its people with it, each change naming every scope that must hear of it.
import { describe, expect, it } from 'vitest';
import { RemotePresence } from '../../server/realtime/remote-presence.ts';

const inCommunity = (userId: string, status: 'online' | 'idle' | 'offline', communityIds = ['k1']) => ({ userId, status, communityIds, dmChannelIds: [] });

describe('remote presence', () => {
	it('is the best status over the nodes a person is on', () => {
		const presence = new RemotePresence();
		presence.apply('n1', [inCommunity('u1', 'idle')], false);
		expect(presence.statusOf('u1')).toBe('idle');
		presence.apply('n2', [inCommunity('u1', 'online')], false);
		expect(presence.statusOf('u1')).toBe('online');
		presence.apply('n2', [inCommunity('u1', 'offline')], false);
		expect(presence.statusOf('u1')).toBe('idle');
		expect(presence.statusOf('nobody')).toBe('offline');
	});

	it('reports the scopes before and after a change, so members of a scope left also hear of it', () => {
		const presence = new RemotePresence();
		presence.apply('n1', [inCommunity('u1', 'online', ['k1'])], false);
		const [change] = presence.apply('n1', [inCommunity('u1', 'online', ['k2'])], false);
		expect([...change!.scopes.communities].sort()).toEqual(['k1', 'k2']);
		expect([...presence.usersIn('community', 'k1')]).toEqual([]);
		expect([...presence.usersIn('community', 'k2')]).toEqual(['u1']);
	});

	it('replaces everything known of a node with its full announcement', () => {
		const presence = new RemotePresence();
		presence.apply('n1', [inCommunity('u1', 'online'), inCommunity('u2', 'online')], false);
		const changes = presence.apply('n1', [inCommunity('u2', 'idle')], true);
		expect(changes.map((c) => c.userId).sort()).toEqual(['u1', 'u2']);
		expect(presence.statusOf('u1')).toBe('offline');
		expect(presence.statusOf('u2')).toBe('idle');
	});

	it('forgets the people of a node that left, keeping them in scopes another node still places them in', () => {
		const presence = new RemotePresence();
		presence.apply('n1', [inCommunity('u1', 'online', ['k1', 'k2'])], false);
		presence.apply('n2', [inCommunity('u1', 'idle', ['k1'])], false);
		const changes = presence.dropNode('n1');
		expect(changes).toHaveLength(1);
		expect(presence.statusOf('u1')).toBe('idle');
		expect([...presence.usersIn('community', 'k1')]).toEqual(['u1']);
		expect([...presence.usersIn('community', 'k2')]).toEqual([]);
	});
});
