// The browser's half of passkeys: the server's options in, the authenticator's answer out, through
// @simplewebauthn/browser. Loaded lazily by the pages that use it. The browser's own errors (the
// person closed the prompt, the passkey exists already) become sentences people can act on.
import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/browser';

export async function passkeysSupported(): Promise<boolean> {
	const { browserSupportsWebAuthn } = await import('@simplewebauthn/browser');
	return browserSupportsWebAuthn();
}

export async function createPasskey(optionsJSON: PublicKeyCredentialCreationOptionsJSON) {
	const { startRegistration } = await import('@simplewebauthn/browser');
	try {
		return await startRegistration({ optionsJSON });
	} catch (error) {
		throw new Error(describe(error, 'create'));
	}
}

export async function usePasskey(optionsJSON: PublicKeyCredentialRequestOptionsJSON) {
	const { startAuthentication } = await import('@simplewebauthn/browser');
	try {
		return await startAuthentication({ optionsJSON });
	} catch (error) {
		throw new Error(describe(error, 'use'));
	}
}

function describe(error: unknown, action: 'create' | 'use'): string {
	const name = error instanceof Error ? ((error as { cause?: { name?: string } }).cause?.name ?? error.name) : '';
	const code = (error as { code?: string } | null)?.code;
	if (code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED' || name === 'InvalidStateError') return 'This device already holds a passkey for your account.';
	if (name === 'NotAllowedError' || name === 'AbortError') return action === 'create' ? 'No passkey was created: the prompt was closed or timed out.' : 'No passkey was used: the prompt was closed or timed out.';
	if (name === 'SecurityError') return 'This address cannot use passkeys. Open the server by its host name, not an IP address.';
	return action === 'create' ? 'The passkey could not be created on this device.' : 'The passkey could not be used on this device.';
}
