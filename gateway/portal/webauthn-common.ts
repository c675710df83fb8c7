/** What the portal's WebAuthn handlers share: the relying party of a request and the ceremony kept in the session. */
import type { Request, Response } from 'express';
import { webauthnCeremonies, type Ceremony, type RelyingParty, type WebauthnCeremonies } from '../secondfactor/webauthn.ts';
import type { WebauthnCredential } from '../storage/webauthn.ts';
import type { PortalDeps } from './deps.ts';

declare module 'express-session' {
  interface SessionData {
    /** The WebAuthn ceremony under way (one at a time): its challenge is used once. */
    webauthnCeremony?: Ceremony;
  }
}

/** Authelia's answers, word for word, so its clients show what they already know. */
export const WEBAUTHN_MESSAGES = {
  failed: 'Authentication failed, please retry later.',
  registerFailed: 'Unable to register your security key.',
  duplicateName: 'Another one of your security keys is already registered with that display name.',
  operationFailed: 'Operation failed.',
} as const;

/** The relying party: the request's cookie domain is its id (keys work across the domain's sites), the portal its origin. */
export function relyingParty(req: Request, deps: Pick<PortalDeps, 'secondFactor'>): RelyingParty {
  const domain = req.cookieDomain!;
  return { id: domain.domain, name: deps.secondFactor.webauthn.display_name, origin: domain.portalUrl.origin };
}

/** The session's ceremony, removed from it: whatever the answer, a challenge is never checked twice. */
export function takeCeremony(req: Request): Ceremony | undefined {
  const ceremony = req.session.webauthnCeremony;
  if (ceremony !== undefined) delete req.session.webauthnCeremony;
  return ceremony;
}

/** The ceremonies over the portal's storage and clock (@simplewebauthn/server loads at the first ceremony). */
export function ceremoniesOf(deps: Pick<PortalDeps, 'secondFactor' | 'storage' | 'now'>): WebauthnCeremonies {
  return webauthnCeremonies(deps.secondFactor.webauthn, deps.storage.webauthn, deps.now);
}

export function ok(res: Response, data?: unknown, status = 200): void {
  res.status(status).json(data === undefined ? { status: 'OK' } : { status: 'OK', data });
}

export function ko(res: Response, status: number, message: string): void {
  res.status(status).json({ status: 'KO', message });
}

/** WebAuthn is off (`webauthn.disable`): its rows answer as if they did not exist. */
export function webauthnOff(deps: Pick<PortalDeps, 'secondFactor'>, res: Response): boolean {
  if (!deps.secondFactor.webauthn.disable) return false;
  ko(res, 404, 'Not found.');
  return true;
}

/** A credential as Authelia's API lists it (never its public key). */
export function credentialJson(c: WebauthnCredential, rpId: string) {
  return {
    id: c.id,
    created_at: new Date(c.createdAt).toISOString(),
    last_used_at: c.lastUsedAt === null ? null : new Date(c.lastUsedAt).toISOString(),
    rpid: rpId,
    description: c.description,
    kid: c.kid,
    aaguid: c.aaguid,
    attestation_type: c.attestationType,
    attachment: c.attachment,
    transports: c.transports,
    sign_count: c.signCount,
    clone_warning: c.cloneWarning,
    discoverable: c.discoverable,
    present: c.present,
    verified: c.verified,
    backup_eligible: c.backupEligible,
    backup_state: c.backupState,
  };
}
