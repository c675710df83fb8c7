/**
 * The settings page (`/settings`): the account, its second factors as storage has them, the password
 * and the signed-in sessions. Adding or removing a factor happens on the pages each links to (each
 * behind ELEVATED); this page only reads. A method disabled in the configuration is not shown.
 */
import type { Request, Response } from 'express';
import { oidcAppsView } from '../oidc/apps.ts';
import type { PortalDeps } from './deps.ts';
import { signedInUser } from './guards.ts';
import { render } from './pages.ts';
import { listUserSessions } from './session-index.ts';
import type { Translate } from './i18n.ts';

/** Recovery codes left at or below this many: the page warns. */
export const RECOVERY_CODES_LOW = 2;

/** A date and time in the page's language, in UTC (the server does not know the browser's zone). */
export function formatWhen(ms: number, lang: string): string {
  return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(new Date(ms)) + ' UTC';
}

/** A readable name for a browser from its User-Agent (the full string stays in the title). */
export function browserName(userAgent: string, t: Translate): string {
  const browser = /Edg\//.test(userAgent) ? 'Edge'
    : /Firefox\//.test(userAgent) ? 'Firefox'
    : /Chrom(e|ium)\//.test(userAgent) ? 'Chrome'
    : /Safari\//.test(userAgent) ? 'Safari'
    : /^curl\//.test(userAgent) ? 'curl'
    : '';
  const system = /Windows/.test(userAgent) ? 'Windows'
    : /Android/.test(userAgent) ? 'Android'
    : /iPhone|iPad/.test(userAgent) ? 'iOS'
    : /Mac OS X/.test(userAgent) ? 'macOS'
    : /Linux/.test(userAgent) ? 'Linux'
    : '';
  if (browser && system) return t('settings_sessions_browser_on', { browser, system });
  return browser || system || (userAgent ? userAgent.slice(0, 60) : t('settings_sessions_unknown_browser'));
}

const NOTICES: Readonly<Record<string, string>> = { ended: 'settings_sessions_ended', unknown: 'settings_sessions_unknown' };
const APP_NOTICES: Readonly<Record<string, string>> = { revoked: 'oidc_settings_consent_revoked', unknown: 'oidc_settings_consent_unknown' };

/** The notice `?name=` asks for, from `notices`' own keys only (`constructor` must not find Object.prototype's). */
function noticeOf(req: Request, name: string, notices: Readonly<Record<string, string>>): string {
  const asked = req.query[name];
  return (typeof asked === 'string' && Object.hasOwn(notices, asked) ? notices[asked] : undefined) ?? '';
}

export function settingsPage(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const user = signedInUser(req);
    const { totp, webauthn } = deps.secondFactor;
    const [totpConfig, credentials, recoveryLeft, sessions, apps] = await Promise.all([
      totp.disable ? undefined : deps.storage.totp.load(user.username),
      webauthn.disable ? [] : deps.storage.webauthn.list(user.username),
      deps.storage.recoveryCodes.remaining(user.username),
      listUserSessions(deps, user.username, req.sessionID),
      oidcAppsView(deps, user.username),
    ]);
    render(res, deps, 'settings', {
      wide: true,
      user,
      // authentication_backend.password_change.disable: no way to change it here, so no button
      passwordChange: !deps.secondFactor.passwordChangeDisabled,
      totp: totp.disable ? null : { configured: totpConfig !== undefined, createdAt: totpConfig?.createdAt ?? null },
      webauthn: webauthn.disable ? null : credentials.map((c) => ({ name: c.description, createdAt: c.createdAt, lastUsedAt: c.lastUsedAt })),
      // recovery codes stand in for a second factor: with every method disabled there is nothing to recover
      recovery: totp.disable && webauthn.disable ? null : { left: recoveryLeft, low: recoveryLeft <= RECOVERY_CODES_LOW },
      sessions,
      sessionNotice: noticeOf(req, 'sessions', NOTICES),
      // the OpenID Connect apps: only when identity_providers.oidc is configured
      apps,
      appsNotice: noticeOf(req, 'apps', APP_NOTICES),
      formatWhen,
      browserName,
    });
  };
}
