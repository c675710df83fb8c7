/**
 * The portal's security-key pages: `/settings/webauthn` (list, rename, delete without JavaScript; adding
 * one runs the WebAuthn ceremony in portal/static/webauthn.js) and the browser library it uses,
 * @simplewebauthn/browser, served from node_modules (no CDN).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Request, Response } from 'express';
import type { PortalDeps } from './deps.ts';
import { signedInUser } from './guards.ts';
import { portalBase, render } from './pages.ts';
import { deleteCredential, renameCredential } from './webauthn-credentials.ts';
import { DESCRIPTION_MAX } from '../secondfactor/webauthn.ts';

const DONE = new Set(['added', 'renamed', 'deleted']);
const ERRORS = new Set(['name_taken', 'name_invalid', 'not_found']);

function pick(value: unknown, allowed: ReadonlySet<string>): string {
  return typeof value === 'string' && allowed.has(value) ? value : '';
}

function dateOf(ms: number | null): string {
  return ms === null ? '' : new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

/** GET /settings/webauthn */
export function webauthnSettingsPage(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const user = signedInUser(req);
    const credentials = deps.secondFactor.webauthn.disable ? [] : await deps.storage.webauthn.list(user.username);
    render(res, deps, 'settings-webauthn', {
      disabled: deps.secondFactor.webauthn.disable,
      descriptionMax: DESCRIPTION_MAX,
      done: pick(req.query.done, DONE),
      error: pick(req.query.error, ERRORS),
      mailFailed: req.query.mail === 'failed',
      credentials: credentials.map((c) => ({
        id: c.id,
        description: c.description,
        passkey: c.discoverable,
        created: dateOf(c.createdAt),
        lastUsed: dateOf(c.lastUsedAt),
        cloneWarning: c.cloneWarning,
      })),
    });
  };
}

function backToSettings(req: Request, res: Response, query: string): void {
  res.redirect(303, `${portalBase(req)}settings/webauthn${query ? `?${query}` : ''}`);
}

const field = (req: Request, name: string): unknown => (req.body as Record<string, unknown> | undefined)?.[name];

/** POST /settings/webauthn/:id/rename */
export function renameWebauthnForm(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const outcome = await renameCredential(deps, req, signedInUser(req), req.params.id, field(req, 'description'));
    const query = { renamed: 'done=renamed', taken: 'error=name_taken', invalid: 'error=name_invalid', not_found: 'error=not_found' }[outcome];
    backToSettings(req, res, query);
  };
}

/** POST /settings/webauthn/:id/delete */
export function deleteWebauthnForm(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const outcome = await deleteCredential(deps, req, signedInUser(req), req.params.id);
    if (!outcome.deleted) return backToSettings(req, res, 'error=not_found');
    backToSettings(req, res, `done=deleted${outcome.mailProblem ? '&mail=failed' : ''}`);
  };
}

/** GET /vendor/simplewebauthn-browser.js: the library's UMD bundle, read from node_modules once per gateway. */
export function simplewebauthnBrowserScript() {
  let bundle: Promise<Buffer> | null = null;
  return async (_req: Request, res: Response) => {
    // the package exports no subpath: the bundle sits beside its CommonJS entry point
    bundle ??= readFile(join(dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle', 'index.umd.min.js'));
    const body = await bundle;
    // the version is pinned by package.json: a day's cache, revalidated after
    res.set({ 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'public, max-age=86400' }).send(body);
  };
}
