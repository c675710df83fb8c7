/**
 * The portal's languages: English and Spanish (the ProxMenux documentation's two). Each language's
 * strings are one catalogue, kept as one JSON file per page family under
 * `templates/portal/i18n/<language>/` and merged when first used (a key in two files is a mistake
 * and refused). The language comes from `?lang=`, which also sets a cookie, else that cookie, else
 * the browser's Accept-Language, else English.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Request, Response } from 'express';
import { InternalError } from '../../lib/errors.ts';

export const PORTAL_LANGUAGES = ['en', 'es'] as const;
export type PortalLanguage = (typeof PORTAL_LANGUAGES)[number];
export const LANGUAGE_COOKIE = 'gatehouse_lang';

const CATALOGUES = fileURLToPath(new URL('../../templates/portal/i18n/', import.meta.url));
const loaded = new Map<PortalLanguage, Readonly<Record<string, string>>>();

/** Every string of `language`, from all its files (read once). */
export function portalCatalogue(language: PortalLanguage): Readonly<Record<string, string>> {
  let strings = loaded.get(language);
  if (strings) return strings;
  const merged: Record<string, string> = {};
  const dir = `${CATALOGUES}${language}/`;
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.json')).sort()) {
    const part = JSON.parse(readFileSync(`${dir}${file}`, 'utf8')) as Record<string, unknown>;
    for (const [key, value] of Object.entries(part)) {
      if (typeof value !== 'string') throw new InternalError('internal_error', `portal catalogue ${language}/${file}: '${key}' is not a string`);
      if (key in merged) throw new InternalError('internal_error', `portal catalogue ${language}: '${key}' is defined twice (${file})`);
      merged[key] = value;
    }
  }
  strings = Object.freeze(merged);
  loaded.set(language, strings);
  return strings;
}

export type Translate = (key: string, values?: Readonly<Record<string, string | number>>) => string;

/** `t(key, values)`: the string with each `{name}` filled; a key missing from the catalogue is a bug, refused loudly. */
export function translator(language: PortalLanguage): Translate {
  const strings = portalCatalogue(language);
  return (key, values) => {
    const template = strings[key];
    if (template === undefined) throw new InternalError('internal_error', `portal catalogue ${language}: no string '${key}'`);
    return values ? template.replace(/\{(\w+)\}/g, (whole, name: string) => (values[name] === undefined ? whole : String(values[name]))) : template;
  };
}

const isLanguage = (value: unknown): value is PortalLanguage => typeof value === 'string' && (PORTAL_LANGUAGES as readonly string[]).includes(value);

/** The first of our languages the Accept-Language header prefers (q-values honoured), or null. */
export function fromAcceptLanguage(header: string | undefined): PortalLanguage | null {
  if (!header) return null;
  const ranked = header
    .split(',')
    .slice(0, 32)
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      const weight = q ? Number(q.slice(2)) : 1;
      return { primary: tag.trim().toLowerCase().split('-')[0], weight: Number.isFinite(weight) ? weight : 0, index };
    })
    .filter((entry) => entry.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.index - b.index);
  return ranked.map((entry) => entry.primary).find(isLanguage) ?? null;
}

function cookieValue(req: Request, name: string): string | undefined {
  const header = req.headers?.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The language of this request without remembering anything (a mail sent on its behalf). */
export function requestLanguage(req: Request): PortalLanguage {
  if (isLanguage(req.query?.lang)) return req.query.lang;
  const remembered = cookieValue(req, LANGUAGE_COOKIE);
  if (isLanguage(remembered)) return remembered;
  return fromAcceptLanguage(req.headers?.['accept-language']) ?? 'en';
}

/** The language of this request; `?lang=` also remembers the choice in a cookie for a year. */
export function portalLanguage(req: Request, res: Response): PortalLanguage {
  const asked = req.query?.lang;
  if (isLanguage(asked)) {
    res.cookie(LANGUAGE_COOKIE, asked, { path: '/', maxAge: 365 * 86_400_000, sameSite: 'lax', httpOnly: true, secure: req.cookieDomain?.secure ?? false });
    return asked;
  }
  const remembered = cookieValue(req, LANGUAGE_COOKIE);
  if (isLanguage(remembered)) return remembered;
  return fromAcceptLanguage(req.headers?.['accept-language']) ?? 'en';
}
