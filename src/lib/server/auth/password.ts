// Argon2id with the OWASP-recommended minimum parameters (19 MiB, 2 passes, 1 lane): ~60 ms per hash
// on the build machine, affordable per sign-in and costly per guess.
import { hash, verify } from '@node-rs/argon2';

const OPTIONS = { memoryCost: 19456, timeCost: 2, parallelism: 1, outputLen: 32 } as const;

export function hashPassword(password: string): Promise<string> {
	return hash(password, OPTIONS);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
	try {
		return await verify(passwordHash, password);
	} catch {
		return false;
	}
}

// Verifying against this when the username does not exist keeps response times alike, so timing
// does not reveal which usernames exist.
let dummyHash: Promise<string> | undefined;
export async function verifyAgainstDummy(password: string): Promise<void> {
	dummyHash ??= hashPassword('a dummy password nobody has');
	await verifyPassword(await dummyHash, password);
}
