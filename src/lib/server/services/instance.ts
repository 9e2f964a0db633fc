// Instance-wide settings kept in the database (one row), changed by instance owners and admins
// at run time without a restart.
import { eq } from 'drizzle-orm';
import type { InstanceInfo } from '#lib/shared/api-types.ts';
import type { RegistrationMode } from '#lib/shared/validation.ts';
import type { Database } from '../db/open.ts';
import { instanceSettings, users } from '../db/schema.ts';
import { requireInstanceAdmin } from '../access.ts';

export class Instance {
	#db: Database;

	constructor(deps: { db: Database }) {
		this.#db = deps.db;
	}

	/** Creates the settings row on first start, seeded from the environment. */
	async ensureDefaults(registrationMode: RegistrationMode): Promise<void> {
		await this.#db.insert(instanceSettings).values({ id: 1, registrationMode }).onConflictDoNothing();
	}

	async info(): Promise<InstanceInfo> {
		const [settings] = await this.#db.select().from(instanceSettings).where(eq(instanceSettings.id, 1));
		const [anyone] = await this.#db.select({ id: users.id }).from(users).limit(1);
		return {
			name: settings?.instanceName ?? 'Hearth',
			registrationMode: settings?.registrationMode ?? 'open',
			needsSetup: !anyone
		};
	}

	async update(
		actor: { instanceRole: 'owner' | 'admin' | 'member' },
		input: { name?: string; registrationMode?: RegistrationMode }
	): Promise<InstanceInfo> {
		requireInstanceAdmin(actor);
		const patch: Partial<typeof instanceSettings.$inferInsert> = { updatedAt: new Date() };
		if (input.name !== undefined) patch.instanceName = input.name;
		if (input.registrationMode !== undefined) patch.registrationMode = input.registrationMode;
		await this.#db.update(instanceSettings).set(patch).where(eq(instanceSettings.id, 1));
		return this.info();
	}
}
