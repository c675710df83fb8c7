/**
 * E-mail bodies from `templates/email/`: one generic message (title, greeting, lines, an optional
 * one-time code, an optional link, a footer naming the address the request came from) in HTML and
 * plain text, in English or Spanish from `templates/email/i18n/<language>.json`. Every feature that
 * mails someone (a reset link, a one-time code, "password changed", a device added or removed) fills
 * the same message with its own catalogue strings.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import { GatehouseError } from '../../lib/errors.ts';
import type { NotificationMessage } from './notifier.ts';

export const EMAIL_LANGUAGES = ['en', 'es'] as const;
export type EmailLanguage = (typeof EMAIL_LANGUAGES)[number];

const TEMPLATES = fileURLToPath(new URL('../../templates/email/', import.meta.url));

// every value is escaped in HTML; the plain-text body is not HTML, so escaping there would only show `&amp;`
const html = new Eta({ views: TEMPLATES, cache: true, autoEscape: true });
const text = new Eta({ views: TEMPLATES, cache: true, autoEscape: false, autoTrim: false });

export type EmailStrings = Readonly<Record<string, string>>;
const catalogues = new Map<EmailLanguage, EmailStrings>();

/** The catalogue of `language` (read once). */
export function emailStrings(language: EmailLanguage): EmailStrings {
  let strings = catalogues.get(language);
  if (!strings) {
    strings = JSON.parse(readFileSync(new URL(`i18n/${language}.json`, `file://${TEMPLATES}`), 'utf8')) as EmailStrings;
    catalogues.set(language, strings);
  }
  return strings;
}

/** `template` with each `{name}` replaced by `values.name`; a placeholder without a value stays as it is. */
export function fillPlaceholders(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}

export interface EmailContent {
  language: EmailLanguage;
  /** the heading, and the subject's `{title}` */
  title: string;
  /** the greeting names them when known */
  displayName?: string;
  /** paragraphs of the body, as plain text */
  lines: readonly string[];
  /** a button in HTML, a line in plain text; http(s) only */
  link?: { url: string; text: string };
  /** a one-time code, shown large */
  code?: string;
  /** where the request came from, named in the footer */
  remoteIp?: string;
}

/** The message in both forms; the subject is the title (the SMTP notifier puts it in `notifier.smtp.subject`). */
export function renderEmail(content: EmailContent): NotificationMessage {
  if (!(EMAIL_LANGUAGES as readonly string[]).includes(content.language)) throw new GatehouseError('internal_error', `e-mail: no catalogue for the language '${content.language}'`);
  // a language or link from outside the code is a mistake in the caller; a javascript: or data: link in a mail is never one of ours
  if (content.link && !/^https?:\/\//i.test(content.link.url)) throw new GatehouseError('internal_error', 'e-mail: a link must be an http(s) URL');
  const strings = emailStrings(content.language);
  const footer = [
    ...(content.remoteIp ? [fillPlaceholders(strings.footer_remote_ip!, { ip: content.remoteIp })] : []),
    strings.footer_not_you!,
  ];
  const data = {
    language: content.language,
    title: content.title,
    greeting: content.displayName ? fillPlaceholders(strings.greeting!, { name: content.displayName }) : strings.greeting_without_name,
    lines: content.lines,
    link: content.link,
    code: content.code,
    footer,
    strings,
  };
  return {
    subject: content.title,
    html: html.render('./message-html', data),
    text: `${text.render('./message-text', data).trim()}\n`,
  };
}
