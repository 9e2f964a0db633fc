import * as v from 'valibot';
import { CHANNEL_PERMISSIONS } from '#lib/shared/permissions.ts';
import { ChannelName, ChannelTopic, SlowModeSeconds } from '#lib/shared/validation.ts';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Channel');
	return json({ channel: await event.locals.app.services.channels.get(user.id, id) });
});

const Patch = v.strictObject({
	name: v.optional(ChannelName),
	topic: v.optional(ChannelTopic),
	slowModeSeconds: v.optional(SlowModeSeconds),
	archived: v.optional(v.boolean('archived must be true or false.')),
	/** The whole set of overrides (replaces the previous one); keys: moderator, member or a custom role id. */
	permissionOverrides: v.optional(
		v.pipe(
			v.record(
				v.pipe(v.string(), v.maxLength(64)),
				v.strictObject({
					allow: v.array(v.picklist(CHANNEL_PERMISSIONS, 'Unknown channel permission.')),
					deny: v.array(v.picklist(CHANNEL_PERMISSIONS, 'Unknown channel permission.'))
				})
			),
			v.check((o) => Object.keys(o).length <= 50, 'A channel can have at most 50 overrides.')
		)
	)
});

export const PATCH: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Channel');
	const body = await readBody(event, Patch);
	return json({ channel: await event.locals.app.services.channels.update(user.id, id, body) });
});
