/**
 * Elevation endpoints: Authelia 4.39's JSON API (`/api/user/session/elevation`) and the portal's
 * `/elevate` page, which works without JavaScript: a button mails the code, a field takes it.
 */
import type { Request, Response } from 'express';
import { authenticationLevel } from '../session/user-session.ts';
import { canMail } from './account-mail.ts';
import type { PortalDeps } from './deps.ts';
import { elevationStep, isElevated, revokeElevationCode, sendElevationCode, useElevationCode, type SelfServiceRefusal } from './elevation.ts';
import { hasSecondFactor, signedInUser } from './guards.ts';
import { portalBase, render } from './pages.ts';
import { bodyField, jsonKo, jsonMailFailure, jsonOk, jsonRefusal, mailFailureKey, tOf } from './self-service-answers.ts';

const field = bodyField;

/**
 * Where to go after elevating: `rd` only when it is a page of this portal (same origin, under its
 * path); anything else (another host, a scheme-relative or malformed URL, a path that would read as
 * one) goes to the settings page.
 */
export function portalReturn(req: Request, rd: string): string {
  const base = portalBase(req);
  const fallback = `${base}settings`;
  if (!rd) return fallback;
  let url: URL;
  try {
    url = new URL(rd, req.cookieDomain!.portalUrl.origin);
  } catch {
    return fallback;
  }
  if (url.origin !== req.cookieDomain!.portalUrl.origin || !url.pathname.startsWith(base) || url.username || url.password) return fallback;
  // `/.//evil.test/` parses as a path of this origin, but `Location: //evil.test/` is another host
  if (url.pathname.startsWith('//')) return fallback;
  // the elevation page itself would loop
  if (url.pathname === `${base}elevate`) return fallback;
  return `${url.pathname}${url.search}`;
}

// ---- JSON API (Authelia 4.39) ----

export function elevationStateHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const user = signedInUser(req);
    const settings = deps.secondFactor.identityValidation.elevated_session;
    const level = authenticationLevel(req.session.amr);
    const has = level < 2 ? await hasSecondFactor(deps, user.username) : true;
    const until = req.session.elevatedUntil;
    const now = deps.now();
    jsonOk(res, {
      require_second_factor: level < 2 && settings.require_second_factor && has,
      skip_second_factor: level >= 2 && settings.skip_second_factor,
      can_skip_second_factor: level < 2 && !settings.require_second_factor && settings.skip_second_factor && has,
      factor_knowledge: (req.session.amr ?? []).includes('pwd'),
      elevated: isElevated(deps, req),
      expires: typeof until === 'number' && until > now ? Math.floor((until - now) / 1000) : 0,
    });
  };
}

/** A user who must use their second factor gets no code: 403 saying so. */
async function refusedForSecondFactor(deps: PortalDeps, req: Request, res: Response): Promise<boolean> {
  if ((await elevationStep(deps, req, signedInUser(req))) !== 'second-factor') return false;
  jsonKo(res, 403, tOf(req)('elevate_use_second_factor'));
  return true;
}

function noMailRefusal(deps: PortalDeps, req: Request): SelfServiceRefusal | null {
  const user = signedInUser(req);
  if (canMail(deps, user)) return null;
  return { status: 503, key: deps.notifier ? 'self_service_no_address' : 'self_service_no_notifier' };
}

export function elevationSendHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    if (await refusedForSecondFactor(deps, req, res)) return;
    const noMail = noMailRefusal(deps, req);
    if (noMail) return jsonRefusal(req, res, noMail);
    let sent;
    try {
      sent = await sendElevationCode(deps, req, signedInUser(req));
    } catch (error) {
      return jsonMailFailure(req, res, error);
    }
    if ('status' in sent) return jsonRefusal(req, res, sent);
    jsonOk(res, { delete_id: sent.publicId });
  };
}

export function elevationCodeHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const otc = field(req.body, 'otc');
    const used = await useElevationCode(deps, req, signedInUser(req), otc);
    if ('status' in used) return jsonRefusal(req, res, used);
    jsonOk(res);
  };
}

export function elevationRevokeHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const revoked = await revokeElevationCode(deps, req, String(req.params.id ?? ''));
    if (typeof revoked === 'object') return jsonRefusal(req, res, revoked);
    if (!revoked) return jsonKo(res, 404, tOf(req)('elevate_revoke_unknown'));
    jsonOk(res);
  };
}

// ---- the /elevate page ----

function elevateView(deps: PortalDeps, req: Request, rd: string, extra: { error?: string } = {}) {
  return {
    rd,
    sent: typeof req.session.elevationCodeId === 'string',
    email: signedInUser(req).emails[0] ?? '',
    characters: deps.secondFactor.identityValidation.elevated_session.characters,
    minutes: Math.max(1, Math.round(deps.secondFactor.identityValidation.elevated_session.code_lifespan / 60)),
    error: extra.error ?? '',
  };
}

/** Sends a session already elevated on, a user who must use a second factor to that step; else null. */
async function elevateElsewhere(deps: PortalDeps, req: Request, rd: string): Promise<string | null> {
  if (isElevated(deps, req)) return portalReturn(req, rd);
  if ((await elevationStep(deps, req, signedInUser(req))) === 'second-factor') {
    const back = `${req.cookieDomain!.portalUrl.origin}${portalBase(req)}elevate${rd ? `?rd=${encodeURIComponent(rd)}` : ''}`;
    return `${portalBase(req)}2fa?rd=${encodeURIComponent(back)}`;
  }
  return null;
}

export function elevatePage(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const rd = typeof req.query.rd === 'string' ? req.query.rd : '';
    const elsewhere = await elevateElsewhere(deps, req, rd);
    if (elsewhere) return res.redirect(303, elsewhere);
    const noMail = noMailRefusal(deps, req);
    render(res, deps, 'elevate', { ...elevateView(deps, req, rd), ...(noMail ? { error: tOf(req)(noMail.key), blocked: true } : { blocked: false }) });
  };
}

export function elevateSendForm(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const rd = field(req.body, 'rd');
    const elsewhere = await elevateElsewhere(deps, req, rd);
    if (elsewhere) return res.redirect(303, elsewhere);
    const again = (refusal: SelfServiceRefusal) => {
      if (refusal.retryAfterSeconds !== undefined) res.set('Retry-After', String(refusal.retryAfterSeconds));
      render(res, deps, 'elevate', { ...elevateView(deps, req, rd, { error: tOf(req)(refusal.key, refusal.values) }), blocked: refusal.status === 503 }, refusal.status);
    };
    const noMail = noMailRefusal(deps, req);
    if (noMail) return again(noMail);
    let sent;
    try {
      sent = await sendElevationCode(deps, req, signedInUser(req));
    } catch (error) {
      return again({ status: 503, key: mailFailureKey(error) });
    }
    if ('status' in sent) return again(sent);
    res.redirect(303, `${portalBase(req)}elevate${rd ? `?rd=${encodeURIComponent(rd)}` : ''}`);
  };
}

export function elevateForm(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const rd = field(req.body, 'rd');
    const used = await useElevationCode(deps, req, signedInUser(req), field(req.body, 'code'));
    if ('status' in used) {
      if (used.retryAfterSeconds !== undefined) res.set('Retry-After', String(used.retryAfterSeconds));
      return render(res, deps, 'elevate', { ...elevateView(deps, req, rd, { error: tOf(req)(used.key, used.values) }), blocked: false }, used.status);
    }
    res.redirect(303, portalReturn(req, rd));
  };
}

/** The revocation link of the mail: a page with a button, so a mail scanner opening links revokes nothing. */
export function elevateRevokePage(deps: PortalDeps) {
  return (req: Request, res: Response) => {
    const id = typeof req.query.id === 'string' ? req.query.id : '';
    const t = tOf(req);
    render(res, deps, 'confirm', { title: t('elevate_revoke_title'), message: t('elevate_revoke_text'), action: 'elevate/revoke', name: 'id', value: id, button: t('elevate_revoke_button') });
  };
}

export function elevateRevokeForm(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const t = tOf(req);
    const revoked = await revokeElevationCode(deps, req, field(req.body, 'id'));
    if (typeof revoked === 'object') {
      if (revoked.retryAfterSeconds !== undefined) res.set('Retry-After', String(revoked.retryAfterSeconds));
      return render(res, deps, 'message', { title: t('elevate_revoke_title'), message: t(revoked.key, revoked.values), alert: true }, revoked.status);
    }
    if (!revoked) return render(res, deps, 'message', { title: t('elevate_revoke_title'), message: t('elevate_revoke_unknown'), alert: true }, 404);
    render(res, deps, 'message', { title: t('elevate_revoke_title'), message: t('elevate_revoke_done') });
  };
}

