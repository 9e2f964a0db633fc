import * as v from 'valibot';
import { InstanceName, RateLimitLevel, RegistrationMode, StunUrls, TurnUrls, Uuid } from '#lib/shared/validation.ts';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** Every instance setting, for the admin page; instance owners and admins only. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	return json({ settings: await event.locals.app.services.instance.settings(user) });
});

const Patch = v.strictObject({
	name: v.optional(InstanceName),
	registrationMode: v.optional(v.picklist(RegistrationMode.options, 'Registration is open, invite_only or closed.')),
	messageMaxBytes: v.optional(
		v.nullable(
			v.pipe(
				v.number('The message size limit is a number of bytes.'),
				v.integer('The message size limit is a whole number of bytes.'),
				v.minValue(256, 'The message size limit must be at least 256 bytes.')
			)
		)
	),
	uploadMaxBytes: v.optional(
		v.nullable(
			v.pipe(
				v.number('The upload size limit is a number of bytes.'),
				v.integer('The upload size limit is a whole number of bytes.'),
				v.minValue(1024, 'The upload size limit must be at least 1024 bytes.')
			)
		)
	),
	defaultCommunityId: v.optional(v.nullable(Uuid)),
	rateLimitLevel: v.optional(v.picklist(RateLimitLevel.options, 'The rate-limit level is relaxed, normal or strict.')),
	guestAccess: v.optional(v.boolean('Guest access is true or false.')),
	stunUrls: v.optional(StunUrls),
	turnUrls: v.optional(TurnUrls),
	twoFactorRequirement: v.optional(v.picklist(['off', 'admins', 'everyone'], 'The two-factor requirement is off, admins or everyone.')),
	twoFactorGraceDays: v.optional(
		v.pipe(
			v.number('The grace period is a number of days.'),
			v.integer('The grace period is a whole number of days.'),
			v.minValue(0, 'The grace period is 0 to 90 days.'),
			v.maxValue(90, 'The grace period is 0 to 90 days.')
		)
	)
});

/** Changes take effect at once (no restart) and are recorded in the audit log. */
export const PATCH: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const body = await readBody(event, Patch);
	const change = { ...body, ...(body.defaultCommunityId ? { defaultCommunityId: body.defaultCommunityId.toLowerCase() } : {}) };
	return json({ settings: await event.locals.app.services.instance.update(user, change) });
});
