/**
 * The route-table handlers for the provider's own endpoints: each hands the request to oidc-provider,
 * with the client's address known to the client-secret checks and a Content-Security-Policy that lets
 * the provider's form_post answers reach the registered redirect URIs.
 */
import type { IncomingMessage } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { InternalError } from '../../lib/errors.ts';
import { requestIp, type PortalDeps } from '../portal/deps.ts';
import { forgetSession } from '../portal/session-index.ts';
import { clearSessionCookie, destroy } from '../portal/session-middleware.ts';
import { oidcRequest } from './client-auth.ts';
import type { OidcProvider } from './provider.ts';

/** The portal's policy without form-action: a form_post answer goes to the client's registered redirect URI. */
const PROVIDER_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Set on the request of an RP-initiated logout's confirmation; the provider calls it once the user said yes. */
export interface LogoutRequest extends IncomingMessage {
  endGatewaySession?: (accountId: string | undefined) => Promise<void>;
}

function providerOf(deps: PortalDeps): OidcProvider {
  if (!deps.oidc) throw new InternalError('route_table_invalid', 'route table: an OpenID Connect row without identity_providers.oidc');
  return deps.oidc.oidc;
}

function hand(deps: PortalDeps, oidc: OidcProvider, req: Request, res: Response): void {
  res.setHeader('Content-Security-Policy', PROVIDER_CSP);
  oidcRequest.run({ ip: requestIp(req, deps) }, () => oidc.handle(req, res));
}

/** authorization, PAR, token, userinfo, introspection, revocation, end-session, discovery. */
export function oidcEndpoint(deps: PortalDeps): RequestHandler {
  const oidc = providerOf(deps);
  return (req, res) => hand(deps, oidc, req, res);
}

/** RFC 8414's metadata path answers what discovery answers. */
export function authorizationServerMetadata(deps: PortalDeps): RequestHandler {
  const oidc = providerOf(deps);
  return (req, res) => {
    const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
    req.url = `/.well-known/openid-configuration${query}`;
    req.originalUrl = `${req.baseUrl}${req.url}`;
    hand(deps, oidc, req, res);
  };
}

/**
 * The logout confirmation: once the provider has ended its session (the user said yes), the gateway
 * session ends too, with the other provider sessions it started.
 */
export function endSessionConfirm(deps: PortalDeps): RequestHandler {
  const oidc = providerOf(deps);
  return (req, res) => {
    (req as LogoutRequest).endGatewaySession = async (accountId) => {
      const identity = req.session?.identity;
      // a provider session of another account (the browser switched user) leaves this user signed in
      if (identity && accountId !== undefined && (await deps.storage.oidc.existingSubject(identity.username)) !== accountId) return;
      if (identity) {
        await deps.sessionEnded?.(req.session);
        await forgetSession(req, deps);
        await destroy(req);
      }
      if (req.cookieDomain) clearSessionCookie(req, res);
    };
    hand(deps, oidc, req, res);
  };
}
