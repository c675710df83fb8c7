/**
 * Mailing a person about their account: a one-time code, a reset link, "your password was changed",
 * "a device was added". One function, so every feature sends, audits and fails the same way: a
 * message that could not be sent is an audit line and a NotifierError the caller turns into a clear
 * answer, never a silent drop.
 */
import type { Request } from 'express';
import { NotifierError } from '../notification/notifier.ts';
import { EMAIL_LANGUAGES, emailStrings, fillPlaceholders, renderEmail, type EmailLanguage } from '../notification/templates.ts';
import type { UserDetails } from '../users/provider.ts';
import { requestIp, type PortalDeps } from './deps.ts';
import { requestLanguage } from './i18n.ts';

/** What to send: catalogue keys of templates/email/i18n (`<kind>_title`, `<kind>_body`, optional `<kind>_link`). */
export interface AccountMail {
  /** `reset_password`, `one_time_code`, `password_changed`, `device_added`, `device_removed`, … */
  kind: string;
  /** values for the body's `{placeholders}` */
  values?: Readonly<Record<string, string>>;
  link?: string;
  code?: string;
  /** more catalogue keys, each a paragraph after the body (filled with `values` too) */
  extraLines?: readonly string[];
}

/** Whether `user` can be mailed at all: a notifier is configured and they have an address. */
export function canMail(deps: Pick<PortalDeps, 'notifier'>, user: UserDetails): boolean {
  return deps.notifier !== null && user.emails.length > 0;
}

/** Sends `mail` to the user's first address in the request's language; rejects (NotifierError) when it was not sent. */
export async function sendAccountMail(deps: Pick<PortalDeps, 'notifier' | 'audit' | 'isTrustedProxy'>, req: Request, user: UserDetails, mail: AccountMail): Promise<void> {
  const rhost = requestIp(req, deps);
  const address = user.emails[0];
  if (!deps.notifier || !address) {
    deps.audit.account({ rhost, user: user.username, what: 'mail not sent', detail: `${mail.kind}: ${deps.notifier ? 'the user has no e-mail address' : 'no notifier is configured'}`, failed: true });
    throw new NotifierError('notification_failed', deps.notifier ? 'Your account has no e-mail address; ask your administrator to add one.' : 'Gatehouse cannot send e-mail: no notifier is configured.');
  }
  const portalLanguage = requestLanguage(req);
  const language: EmailLanguage = (EMAIL_LANGUAGES as readonly string[]).includes(portalLanguage) ? (portalLanguage as EmailLanguage) : 'en';
  const strings = emailStrings(language);
  const string = (key: string) => {
    const value = strings[key];
    if (value === undefined) throw new NotifierError('notification_failed', `e-mail: no string '${key}' in the ${language} catalogue`);
    return fillPlaceholders(value, mail.values ?? {});
  };
  const message = renderEmail({
    language,
    title: string(`${mail.kind}_title`),
    displayName: user.displayName,
    lines: [string(`${mail.kind}_body`), ...(mail.extraLines ?? []).map(string)],
    ...(mail.link ? { link: { url: mail.link, text: string(`${mail.kind}_link`) } } : {}),
    ...(mail.code ? { code: mail.code } : {}),
    remoteIp: rhost,
  });
  try {
    await deps.notifier.send({ address, name: user.displayName }, message);
  } catch (error) {
    deps.audit.account({ rhost, user: user.username, what: 'mail not sent', detail: `${mail.kind}: ${error instanceof Error ? error.message : String(error)}`, failed: true });
    throw error instanceof NotifierError ? error : new NotifierError('notification_failed', 'The e-mail could not be sent.', { cause: error });
  }
  deps.audit.account({ rhost, user: user.username, what: 'mail sent', detail: mail.kind });
}
