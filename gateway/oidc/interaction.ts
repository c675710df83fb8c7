/**
 * The portal's side of an authorization request (`/oidc/interaction/:uid`): the gateway session says who
 * the user is and with which factors; the client's authorization_policy says what it needs; the
 * client's consent mode says whether to ask. Then the provider resumes the request with that answer.
 *
 * - no gateway session: the page row's guard sends the browser to sign in, and back here;
 * - a session below the client's policy (or below an essential `acr_values=two_factor`): to `/2fa`, and
 *   back; a one-factor session never gets a code for a two-factor client;
 * - `deny` for this user or network: the client gets `access_denied`;
 * - consent: `implicit` never asks; `pre-configured` asks once per `pre_configured_consent_duration`
 *   (remembered in storage, listed and revocable on the settings page); `explicit` always asks.
 */
import { randomBytes } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { SessionData } from 'express-session';
import { InternalError } from '../../lib/errors.ts';
import type { OidcClientConfig, OidcProviderConfig } from '../config/oidc-schema.ts';
import { requestIp, type PortalDeps } from '../portal/deps.ts';
import { signedInUser } from '../portal/guards.ts';
import { field, pageTranslator, portalBase, render } from '../portal/pages.ts';
import { authenticationLevel } from '../session/user-session.ts';
import type { UserDetails } from '../users/provider.ts';
import { scopeClaims } from './claims.ts';
import { allowedScopes, consentCovered, consentModeOf, levelSuffices } from './policy.ts';
import type { OidcProvider } from './provider.ts';

declare module 'express-session' {
  interface SessionData {
    /** Ties the provider sessions this session started to it, across id changes (storage/oidc.ts). */
    oidcLinkKey?: string;
  }
}

export interface InteractionDeps {
  oidc: OidcProvider;
  config: OidcProviderConfig;
}

interface Details {
  uid: string;
  params: Record<string, string | undefined>;
  grantId?: string;
  /** when the authorization request reached the provider, epoch seconds */
  iat?: number;
}

function oidcOf(deps: PortalDeps): InteractionDeps {
  if (!deps.oidc) throw new InternalError('route_table_invalid', 'route table: an OpenID Connect row without identity_providers.oidc');
  return deps.oidc;
}

/** Claims every ID token carries whatever the scopes (oidc-provider never asks about them). */
const ALWAYS_RELEASED = new Set(['sub', 'sid', 'auth_time', 'acr', 'amr', 'iss']);

/**
 * Claim names asked for by name in the `claims` request parameter that the granted `scopes` release:
 * the parameter picks claims (into the ID token, say), it never reaches past the client's scopes or
 * past what the consent page listed. `refused`: the other names, rejected in the grant.
 */
function grantableClaims(deps: PortalDeps, details: Details, scopes: readonly string[]): { granted: string[]; refused: string[] } {
  const byScope = scopeClaims(oidcOf(deps).config);
  const released = new Set(scopes.flatMap((scope) => byScope[scope] ?? []));
  const asked = requestedClaims(details).filter((claim) => !ALWAYS_RELEASED.has(claim));
  return { granted: asked.filter((claim) => released.has(claim)), refused: asked.filter((claim) => !released.has(claim)) };
}

/** Claim names asked for by name in the `claims` request parameter. */
function requestedClaims(details: Details): string[] {
  if (!details.params.claims) return [];
  try {
    const parsed = JSON.parse(details.params.claims) as Record<string, Record<string, unknown> | undefined>;
    return [...new Set([...Object.keys(parsed.id_token ?? {}), ...Object.keys(parsed.userinfo ?? {})])];
  } catch {
    return [];
  }
}

async function loadInteraction(deps: PortalDeps, req: Request, res: Response): Promise<{ details: Details; client: OidcClientConfig } | null> {
  const { oidc } = oidcOf(deps);
  let details: Details;
  try {
    details = (await oidc.provider.interactionDetails(req, res)) as Details;
  } catch {
    return null;
  }
  if (details.uid !== req.params.uid) return null;
  const client = oidc.clients.get(details.params.client_id ?? '');
  return client ? { details, client } : null;
}

function expired(deps: PortalDeps, req: Request, res: Response): void {
  const t = pageTranslator(req);
  render(res, deps, 'message', { title: t('oidc_expired_title'), message: t('oidc_expired_message'), alert: true }, 400);
}

/** Finishes the interaction: the gateway session's login, the granted scopes, and the tie for logout. */
async function finish(deps: PortalDeps, req: Request, res: Response, { details, client, user, scopes, claims }: Standing): Promise<void> {
  const { oidc } = oidcOf(deps);
  const provider = oidc.provider;
  const now = deps.now();
  const sub = await deps.storage.oidc.subjectFor(user.username, now);
  let grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
  if (!grant || grant.accountId !== sub) grant = new provider.Grant({ accountId: sub, clientId: client.client_id });
  grant.addOIDCScope(scopes.join(' '));
  if (claims.granted.length > 0) grant.addOIDCClaims(claims.granted);
  if (claims.refused.length > 0) grant.rejectOIDCClaims(claims.refused);
  const grantId = await grant.save();
  const session = req.session as SessionData & typeof req.session;
  session.oidcLinkKey ??= randomBytes(16).toString('base64url');
  const level = authenticationLevel(session.amr);
  const result = {
    login: {
      accountId: sub,
      amr: [...(session.amr ?? [])],
      acr: level >= 2 ? 'two_factor' : 'one_factor',
      ts: Math.floor((session.secondFactorAt ?? session.firstFactorAt ?? now) / 1000),
      remember: session.keepMeLoggedIn === true,
    },
    consent: { grantId },
    gatehouse: { linkKey: session.oidcLinkKey, username: user.username },
  };
  const returnTo = await provider.interactionResult(req, res, result, { mergeWithLastSubmission: false });
  deps.audit.account({ rhost: requestIp(req, deps), user: user.username, what: 'oidc authorization', detail: client.client_id });
  res.redirect(303, returnTo);
}

async function refuse(deps: PortalDeps, req: Request, res: Response, description: string, error = 'access_denied'): Promise<void> {
  const returnTo = await oidcOf(deps).oidc.provider.interactionResult(req, res, { error, error_description: description }, { mergeWithLastSubmission: false });
  res.redirect(303, returnTo);
}

/** Whether a remembered consent covers these scopes and claims. */
function consentCovers(deps: PortalDeps, user: UserDetails, client: OidcClientConfig, scopes: string[], claims: string[]): Promise<boolean> {
  return consentCovered(deps.storage.oidc, client, user.username, scopes, claims, deps.now());
}

/** Where the second-factor step sends the browser back to: this interaction. */
function here(req: Request): string {
  return `${req.cookieDomain!.portalUrl.origin}${portalBase(req)}${req.path.replace(/^\//, '')}`;
}

/** Checks the session against the client's policy; answers (redirect or refusal) and returns false when it falls short. */
async function sessionSuffices(deps: PortalDeps, req: Request, res: Response, details: Details, client: OidcClientConfig, user: UserDetails): Promise<boolean> {
  const suffices = levelSuffices(oidcOf(deps).config, client, user, requestIp(req, deps), authenticationLevel(req.session.amr), details.params.acr_values);
  if (suffices === 'deny') {
    deps.audit.account({ rhost: requestIp(req, deps), user: user.username, what: 'oidc authorization refused', detail: client.client_id, failed: true });
    await refuse(deps, req, res, 'The authorization policy of this client does not allow this user.');
    return false;
  }
  if (!suffices) {
    res.redirect(303, `${portalBase(req)}2fa?rd=${encodeURIComponent(here(req))}`);
    return false;
  }
  if (signInTooOld(details, req.session, deps.now())) {
    // the portal does not sign a signed-in user in again: the client is told it could not (OIDC Core 3.1.2.1)
    deps.audit.account({ rhost: requestIp(req, deps), user: user.username, what: 'oidc authorization refused', detail: `${client.client_id}; a fresh sign-in was asked for`, failed: true });
    await refuse(deps, req, res, 'The client asked for a fresh sign-in (prompt=login or max_age); sign out of the portal and try again.', 'login_required');
    return false;
  }
  return true;
}

/**
 * `prompt=login`: the sign-in (the auth_time the ID token reports) must come after the request;
 * `max_age`: no older than that many seconds. Fail closed: no request time, no fresh sign-in.
 */
function signInTooOld(details: Details, session: Partial<SessionData>, nowMs: number): boolean {
  const authTime = session.secondFactorAt ?? session.firstFactorAt ?? 0;
  if ((details.params.prompt ?? '').split(' ').includes('login') && (details.iat === undefined || authTime < details.iat * 1000)) return true;
  const maxAge = details.params.max_age === undefined ? NaN : Number(details.params.max_age);
  return Number.isInteger(maxAge) && maxAge >= 0 && nowMs - authTime > maxAge * 1000;
}

/** An interaction the session may answer: its request, client and user, the scopes and claims it may grant. */
interface Standing {
  details: Details;
  client: OidcClientConfig;
  user: UserDetails;
  scopes: string[];
  claims: { granted: string[]; refused: string[] };
}

/**
 * What both the page and its form start with: the interaction of this browser, its client, the
 * session's user, checked against the client's policy; null once an answer was given (expired page,
 * the second-factor step, a refusal).
 */
async function standing(deps: PortalDeps, req: Request, res: Response): Promise<Standing | null> {
  const found = await loadInteraction(deps, req, res);
  if (!found) {
    expired(deps, req, res);
    return null;
  }
  const { details, client } = found;
  const user = signedInUser(req);
  if (!(await sessionSuffices(deps, req, res, details, client, user))) return null;
  const scopes = allowedScopes(client, details.params.scope);
  return { details, client, user, scopes, claims: grantableClaims(deps, details, scopes) };
}

export function interactionPage(deps: PortalDeps): RequestHandler {
  return async (req, res) => {
    const found = await standing(deps, req, res);
    if (!found) return;
    const { details, client, user, scopes } = found;
    if (await consentCovers(deps, user, client, scopes, found.claims.granted)) return finish(deps, req, res, found);
    render(res, deps, 'oidc-consent', {
      uid: details.uid,
      clientName: client.client_name ?? client.client_id,
      clientId: client.client_id,
      username: user.username,
      scopes: scopes.filter((scope) => scope !== 'openid'),
      offerRemember: consentModeOf(client) === 'pre-configured',
      rememberDays: Math.max(1, Math.round((client.pre_configured_consent_duration ?? 0) / 86_400)),
    });
  };
}

export function interactionForm(deps: PortalDeps): RequestHandler {
  return async (req, res) => {
    const found = await standing(deps, req, res);
    if (!found) return;
    const { client, user, scopes } = found;
    if (field(req.body, 'decision') !== 'accept') {
      deps.audit.account({ rhost: requestIp(req, deps), user: user.username, what: 'oidc consent refused', detail: client.client_id });
      return refuse(deps, req, res, 'The user did not consent.');
    }
    if (consentModeOf(client) === 'pre-configured' && field(req.body, 'remember') === 'on') {
      const now = deps.now();
      await deps.storage.oidc.recordConsent({
        username: user.username,
        clientId: client.client_id,
        scopes,
        claims: found.claims.granted,
        grantedAt: now,
        expiresAt: now + (client.pre_configured_consent_duration ?? 0) * 1000,
      });
      deps.audit.account({ rhost: requestIp(req, deps), user: user.username, what: 'oidc consent remembered', detail: client.client_id });
    }
    return finish(deps, req, res, found);
  };
}
