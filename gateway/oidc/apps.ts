/**
 * The user's OpenID Connect apps, for the settings page: the apps they are signed in to (a live grant
 * or provider session) and the consents they asked to be remembered, each revocable. Revoking a consent
 * signs the user out of that app everywhere: its grants (with their refresh and access tokens) are
 * revoked, each provider session forgets it, and the app is told over the back channel.
 */
import type { Request, RequestHandler, Response } from 'express';
import { requestIp, type PortalDeps } from '../portal/deps.ts';
import { signedInUser } from '../portal/guards.ts';

export interface OidcAppsView {
  /** Apps with a live grant or provider session, by name. */
  signedIn: Array<{ clientId: string; name: string }>;
  /** Remembered consents, with what they cover and until when (null: until revoked). */
  consents: Array<{ clientId: string; name: string; scopes: string[]; grantedAt: number; expiresAt: number | null }>;
}

/** The settings page's apps section; null when identity_providers.oidc is not configured. */
export async function oidcAppsView(deps: PortalDeps, username: string): Promise<OidcAppsView | null> {
  const oidc = deps.oidc;
  if (!oidc?.logout) return null;
  const clients = oidc.oidc.clients;
  const nameOf = (clientId: string) => clients.get(clientId)?.client_name ?? clientId;
  const configured = (clientId: string) => clients.has(clientId);
  const [clientIds, consents] = await Promise.all([oidc.logout.signedInClients(username), deps.storage.oidc.listConsents(username, deps.now())]);
  return {
    signedIn: clientIds.filter(configured).map((clientId) => ({ clientId, name: nameOf(clientId) })),
    consents: consents
      .filter((c) => configured(c.clientId))
      .map((c) => ({ clientId: c.clientId, name: nameOf(c.clientId), scopes: c.scopes.filter((s) => s !== 'openid'), grantedAt: c.grantedAt, expiresAt: c.expiresAt })),
  };
}

/** Revokes the user's remembered consent for the client and signs them out of it; false when there was no consent. */
async function revoke(deps: PortalDeps, req: Request): Promise<boolean> {
  const clientId = req.params.clientId;
  const logout = deps.oidc?.logout;
  if (typeof clientId !== 'string' || !logout) return false;
  const username = signedInUser(req).username;
  const revoked = await deps.storage.oidc.revokeConsent(username, clientId, deps.now());
  if (!revoked) return false;
  const grants = await logout.endClient(username, clientId);
  deps.audit.account({ rhost: requestIp(req, deps), user: username, what: 'oidc consent revoked', detail: `${clientId}; ${grants} grant(s) revoked` });
  return true;
}

/** DELETE /api/user/oidc/consents/:clientId */
export function revokeConsentHandler(deps: PortalDeps): RequestHandler {
  return async (req: Request, res: Response) => {
    if (!(await revoke(deps, req))) return void res.status(404).json({ status: 'KO', message: 'No such consent.' });
    res.json({ status: 'OK' });
  };
}

/** POST /settings/oidc/consents/:clientId/revoke: back to the settings page's apps section. */
export function revokeConsentForm(deps: PortalDeps): RequestHandler {
  return async (req: Request, res: Response) => {
    const revoked = await revoke(deps, req);
    res.redirect(303, `${req.baseUrl}/settings?apps=${revoked ? 'revoked' : 'unknown'}#apps`);
  };
}
