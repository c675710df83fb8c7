/**
 * WebAuthn ceremonies (security keys and passkeys), without HTTP: the options a browser is given, and
 * the checks of what it sends back. @simplewebauthn/server does the cryptography and is loaded on first
 * use, so a gateway without WebAuthn users never loads it. Each ceremony's challenge is kept by the
 * caller (in the session), is used once and ends after `webauthn.timeout`.
 */
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { WebauthnSettings } from '../config/second-factor-schema.ts';
import type { WebauthnCredential, WebauthnRepository } from '../storage/webauthn.ts';

/** The relying party of a request: the cookie domain is its id, the portal's origin the only origin accepted. */
export interface RelyingParty {
  id: string;
  name: string;
  origin: string;
}

export type CeremonyKind = 'register' | 'second_factor' | 'passkey';

/** What the session keeps between the options and the browser's answer. */
export interface Ceremony {
  kind: CeremonyKind;
  challenge: string;
  /** ms epoch after which the answer is refused */
  expiresAt: number;
  rpId: string;
  /** registration: the user and the name they gave the credential */
  username?: string;
  description?: string;
}

/** Why a ceremony's answer was refused: written for the audit log, never shown as such. */
export type CeremonyRefusal =
  | 'no_ceremony'
  | 'expired'
  | 'malformed'
  | 'unknown_credential'
  | 'wrong_user'
  | 'not_verified'
  | 'counter_regression'
  | 'clone_warning'
  | 'duplicate';

export type Checked<T> = ({ ok: true } & T) | { ok: false; reason: CeremonyRefusal; username?: string; detail?: string };

/** The loose JSON a browser posts; checked field by field by @simplewebauthn/server. */
export type CeremonyResponse = Record<string, unknown>;

type Server = typeof import('@simplewebauthn/server');
let server: Promise<Server> | null = null;
/** @simplewebauthn/server, loaded once on first use. */
function webauthnServer(): Promise<Server> {
  server ??= import('@simplewebauthn/server');
  return server;
}

/** The user verification asked for: selection_criteria's, unless only the legacy key was changed. */
export function userVerificationOf(settings: WebauthnSettings): 'discouraged' | 'preferred' | 'required' {
  const criteria = settings.selection_criteria.user_verification;
  return criteria === 'preferred' && settings.user_verification !== undefined ? settings.user_verification : criteria;
}

export const DESCRIPTION_MAX = 64;

/** Runs one of the library's checks: a throw (a malformed answer, a bad signature) is a refusal with its text. */
async function libraryCheck<T>(check: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; detail: string }> {
  try {
    return { ok: true, value: await check() };
  } catch (error) {
    return { ok: false, detail: error instanceof Error ? error.message : String(error) };
  }
}


export interface WebauthnCeremonies {
  /** Options for navigator.credentials.create(), and the ceremony to keep. */
  registrationOptions(rp: RelyingParty, user: { username: string; displayName: string }, description: string): Promise<{ options: unknown; ceremony: Ceremony }>;
  /** Checks the new credential and stores it under the ceremony's user and name. */
  verifyRegistration(rp: RelyingParty, ceremony: Ceremony | undefined, response: CeremonyResponse): Promise<Checked<{ credential: WebauthnCredential }>>;
  /** Options for navigator.credentials.get() as a second factor (the user's credentials), or null when they have none. */
  assertionOptions(rp: RelyingParty, username: string): Promise<{ options: unknown; ceremony: Ceremony } | null>;
  /** Options for a passkey sign-in: no user named, any discoverable credential. */
  passkeyOptions(rp: RelyingParty): Promise<{ options: unknown; ceremony: Ceremony }>;
  /**
   * Checks an assertion: `username` for a second factor (the credential must be theirs), null for a
   * passkey (the credential names its user through its user handle). A sign counter that did not move
   * forward is refused and the credential flagged (clone_warning).
   */
  verifyAssertion(rp: RelyingParty, ceremony: Ceremony | undefined, response: CeremonyResponse, username: string | null): Promise<Checked<{ credential: WebauthnCredential; userVerified: boolean }>>;
}

export function webauthnCeremonies(settings: WebauthnSettings, repo: WebauthnRepository, now: () => number): WebauthnCeremonies {
  const timeoutMs = settings.timeout * 1000;
  const userVerification = userVerificationOf(settings);
  const ceremonyFor = (kind: CeremonyKind, rp: RelyingParty, challenge: string, extra: Partial<Ceremony> = {}): Ceremony => ({ kind, challenge, expiresAt: now() + timeoutMs, rpId: rp.id, ...extra });

  /** The ceremony, if it is the expected kind, for this relying party and not expired. */
  const current = (ceremony: Ceremony | undefined, kind: CeremonyKind, rp: RelyingParty): Checked<{ ceremony: Ceremony }> => {
    if (!ceremony || ceremony.kind !== kind || ceremony.rpId !== rp.id) return { ok: false, reason: 'no_ceremony' };
    // deny: an answer after the timeout the browser was given
    if (now() >= ceremony.expiresAt) return { ok: false, reason: 'expired' };
    return { ok: true, ceremony };
  };

  return {
    async registrationOptions(rp, user, description) {
      const lib = await webauthnServer();
      const existing = await repo.list(user.username);
      const criteria = settings.selection_criteria;
      const options = await lib.generateRegistrationOptions({
        rpName: rp.name,
        rpID: rp.id,
        userName: user.username,
        userDisplayName: user.displayName,
        userID: new Uint8Array(await repo.userHandle(user.username)),
        timeout: timeoutMs,
        attestationType: 'none',
        excludeCredentials: existing.map((c) => ({ id: c.kid, transports: [...c.transports] })),
        authenticatorSelection: {
          ...(criteria.attachment === '' ? {} : { authenticatorAttachment: criteria.attachment }),
          residentKey: criteria.discoverability,
          requireResidentKey: criteria.discoverability === 'required',
          userVerification,
        },
        extensions: { credProps: true },
      });
      // the library offers none/direct/enterprise; `indirect` is a valid WebAuthn value and is passed as set
      const withAttestation = { ...options, attestation: settings.attestation_conveyance_preference };
      return { options: withAttestation, ceremony: ceremonyFor('register', rp, options.challenge, { username: user.username, description }) };
    },

    async verifyRegistration(rp, ceremony, response) {
      const found = current(ceremony, 'register', rp);
      if (!found.ok) return found;
      const { username = '', description = '' } = found.ceremony;
      const lib = await webauthnServer();
      const checked = await libraryCheck(() =>
        lib.verifyRegistrationResponse({
          response: response as unknown as RegistrationResponseJSON,
          expectedChallenge: found.ceremony.challenge,
          expectedOrigin: rp.origin,
          expectedRPID: rp.id,
          requireUserVerification: userVerification === 'required',
        }),
      );
      if (!checked.ok) return { ok: false, reason: 'malformed', username, detail: checked.detail };
      const verified = checked.value;
      if (!verified.verified) return { ok: false, reason: 'not_verified', username };
      const info = verified.registrationInfo;
      if (await repo.byKid(info.credential.id)) return { ok: false, reason: 'duplicate', username };
      const body = response as { authenticatorAttachment?: unknown; clientExtensionResults?: { credProps?: { rk?: unknown } } };
      const credential = await repo.add({
        username,
        description,
        kid: info.credential.id,
        aaguid: info.aaguid,
        attestationType: info.fmt,
        attachment: body.authenticatorAttachment === 'platform' || body.authenticatorAttachment === 'cross-platform' ? body.authenticatorAttachment : '',
        transports: info.credential.transports ?? [],
        signCount: info.credential.counter,
        discoverable: body.clientExtensionResults?.credProps?.rk === true,
        present: true,
        verified: info.userVerified,
        backupEligible: info.credentialDeviceType === 'multiDevice',
        backupState: info.credentialBackedUp,
        publicKey: Buffer.from(info.credential.publicKey),
        createdAt: now(),
      });
      return { ok: true, credential };
    },

    async assertionOptions(rp, username) {
      const credentials = await repo.list(username);
      if (credentials.length === 0) return null;
      const lib = await webauthnServer();
      const options = await lib.generateAuthenticationOptions({
        rpID: rp.id,
        allowCredentials: credentials.map((c) => ({ id: c.kid, transports: [...c.transports] })),
        userVerification,
        timeout: timeoutMs,
      });
      return { options, ceremony: ceremonyFor('second_factor', rp, options.challenge, { username }) };
    },

    async passkeyOptions(rp) {
      const lib = await webauthnServer();
      const options = await lib.generateAuthenticationOptions({ rpID: rp.id, userVerification, timeout: timeoutMs });
      return { options, ceremony: ceremonyFor('passkey', rp, options.challenge) };
    },

    async verifyAssertion(rp, ceremony, response, username) {
      const found = current(ceremony, username === null ? 'passkey' : 'second_factor', rp);
      if (!found.ok) return found;
      if (typeof response.id !== 'string' || response.id.length > 1024) return { ok: false, reason: 'malformed' };
      const credential = await repo.byKid(response.id);
      if (!credential) return { ok: false, reason: 'unknown_credential' };
      const owner = credential.username;
      if (username !== null && owner !== username) return { ok: false, reason: 'wrong_user', username };
      if (username === null) {
        // a passkey names its user through the handle it was created with; it must be the credential's user's
        const handle = (response.response as { userHandle?: unknown } | undefined)?.userHandle;
        if (typeof handle !== 'string' || (await repo.usernameByHandle(Buffer.from(handle, 'base64url'))) !== owner) return { ok: false, reason: 'wrong_user', username: owner };
      }
      // deny: this credential's counter went backwards before; it stays refused until the user replaces it
      if (credential.cloneWarning) return { ok: false, reason: 'clone_warning', username: owner };
      const lib = await webauthnServer();
      const checked = await libraryCheck(() =>
        lib.verifyAuthenticationResponse({
          response: response as unknown as AuthenticationResponseJSON,
          expectedChallenge: found.ceremony.challenge,
          expectedOrigin: rp.origin,
          expectedRPID: rp.id,
          // the counter is compared below, after the signature: only a signed regression flags the credential
          credential: { id: credential.kid, publicKey: new Uint8Array(credential.publicKey), counter: 0, transports: [...credential.transports] },
          requireUserVerification: userVerification === 'required',
        }),
      );
      if (!checked.ok) return { ok: false, reason: 'malformed', username: owner, detail: checked.detail };
      const verified = checked.value;
      if (!verified.verified) return { ok: false, reason: 'not_verified', username: owner };
      const info = verified.authenticationInfo;
      const regressed = (info.newCounter > 0 || credential.signCount > 0) && info.newCounter <= credential.signCount;
      if (regressed) {
        // the authenticator may have been cloned: flagged, the stored counter kept
        await repo.markUsed(credential.id, { signCount: credential.signCount, backupState: credential.backupState, cloneWarning: true, nowMs: now() });
        return { ok: false, reason: 'counter_regression', username: owner, detail: `counter ${info.newCounter} after ${credential.signCount}` };
      }
      await repo.markUsed(credential.id, { signCount: info.newCounter, backupState: info.credentialBackedUp, cloneWarning: false, nowMs: now() });
      return { ok: true, credential: { ...credential, signCount: info.newCounter }, userVerified: info.userVerified };
    },
  };
}
