/**
 * The guards of the monitor's route table (monitor/routes.ts), each written once here; the table
 * names one on every row. Before any of them, every request under /api has been identified
 * (auth/identity.ts) and a read_only identity refused anything but GET and HEAD.
 */
import type { IncomingMessage } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { markReauthenticated, markSetupProven, type CredentialChecks } from './auth/credential-check.ts';
import type { MonitorAuthDeps } from './auth/deps.ts';
import { requireAuth, requireScope } from './auth/identity.ts';
import { bodyOf, fail, text } from './api/json-api.ts';
import { hasCredentials, type AuthState } from './auth/store.ts';
import type { SessionOwner } from './terminal/server.ts';
import type { TicketStore } from './terminal/tickets.ts';

export const MONITOR_GUARDS = ['PUBLIC', 'SETUP_CODE', 'READ', 'ADMIN', 'ADMIN_REAUTH', 'TICKET'] as const;
export type MonitorGuard = (typeof MONITOR_GUARDS)[number];

/** Who gets past each guard, in words (the README's API section says the same). */
export const GUARD_MEANING: Record<MonitorGuard, string> = {
  PUBLIC: 'anyone',
  SETUP_CODE: 'while no login is set up: a full_admin identity or the setup code the monitor logged; afterwards the endpoint refuses by itself',
  READ: 'any identity (session, API token, Basic with an API token, or a trusted Remote-User)',
  ADMIN: 'a full_admin identity',
  ADMIN_REAUTH:
    "a full_admin identity that re-entered the local account's password (and, with 2FA on, a current code, checked with the change); on rows that allow it, a session whose password login is within recent_login may leave the password out",
  TICKET: 'a single-use ticket from POST /api/terminal/ticket, spent before anything else',
};

/** The first-run actions behind SETUP_CODE, as auth.log names them (method=). */
export type SetupAction = 'setup' | 'skip' | 'decline';

/** Where ADMIN_REAUTH finds the re-entered password, and what it is audited under. */
export interface ReauthOptions {
  /** The name the attempt is counted and audited under (auth.log's method=). */
  audit: string;
  /**
   * The body fields that may hold the password, the first one present is checked (ProxMenux's
   * change-password backend reads `old_password`, its UI sends `current_password`). Default `password`.
   */
  passwordFields?: readonly ('password' | 'old_password' | 'current_password')[];
  /**
   * Without a password, a session token issued by a password login (or password change) less than
   * `recent_login` ago passes (ProxMenux's UI sends none for totp/setup and disable); anything else
   * answers 401 asking to sign in again. A password, when given, is checked as always.
   */
  recentLogin?: true;
  /** The status of a wrong password: 400, or 401 where ProxMenux's clients expect it. */
  wrongStatus?: 400 | 401;
}

/** A row's guard and what that guard needs to know of the row. */
export type HttpGuardSpec =
  | { guard: 'PUBLIC' | 'READ' | 'ADMIN' }
  | { guard: 'SETUP_CODE'; setup: SetupAction }
  | { guard: 'ADMIN_REAUTH'; reauth: ReauthOptions };

export interface GuardDeps {
  auth: Pick<MonitorAuthDeps, 'store' | 'setupCode' | 'now'> & { config: Pick<MonitorAuthDeps['config'], 'recent_login'> };
  checks: Pick<CredentialChecks, 'limited' | 'setupProven' | 'refuseSetup' | 'confirmPassword'>;
  tickets: Pick<TicketStore<SessionOwner>, 'consume'>;
}

export interface MonitorGuards {
  /**
   * The middleware of a row's guard around its body parser (`body`): identity guards go first, so an
   * anonymous caller is refused before its body is read; SETUP_CODE and ADMIN_REAUTH read the body.
   */
  chain(spec: HttpGuardSpec, body: readonly RequestHandler[]): RequestHandler[];
  /** TICKET: spends the upgrade's `?ticket=` and returns whom it was issued to, or null. */
  ticketOwner(req: IncomingMessage): SessionOwner | null;
}

export function createGuards({ auth, checks, tickets }: GuardDeps): MonitorGuards {
  const admin = requireScope('full_admin');

  const setupCode = (action: SetupAction): RequestHandler => async (req, res, next) => {
    if (checks.limited(req, res, null, action)) return;
    const state = await auth.store.read();
    auth.setupCode.refresh(state);
    // the handler re-checks this against the state its own update reads (the monitor may be reset meanwhile)
    const proven = checks.setupProven(req);
    markSetupProven(res, proven);
    // once configured no setup code exists: the endpoint itself refuses, or lets a full_admin add a login after "decline"
    if (state.configured || proven) return next();
    // an audited, rate-limited 403 without the code: reaching the port is not enough to claim the monitor
    checks.refuseSetup(req, res, action);
  };

  /** A session token whose password login (iat) is within recent_login, for the account as it is now. */
  const recentLogin = async (req: Request, res: Response, method: string): Promise<AuthState | null> => {
    const id = req.identity;
    const state = await auth.store.read();
    if (!hasCredentials(state)) {
      fail(res, 400, 'Authentication is not configured');
      return null;
    }
    // the row's rate limit holds on this path too: over it, nothing is checked or changed
    if (checks.limited(req, res, state.username, method)) return null;
    const ageSeconds = id?.issuedAt === undefined ? Infinity : auth.now() / 1000 - id.issuedAt;
    if (id?.tokenUse === 'session' && id.via === 'session' && id.username === state.username && auth.config.recent_login > 0 && ageSeconds <= auth.config.recent_login) return state;
    // no failure is counted: the caller holds a valid session, it guessed nothing (Fail2Ban must not ban it)
    fail(res, 401, 'This change needs a recent sign-in: sign in again (or send your password) and retry', { reauth_required: true });
    return null;
  };

  const reauth = (options: ReauthOptions): RequestHandler => async (req, res, next) => {
    const body = bodyOf(req);
    const field = (options.passwordFields ?? ['password']).find((name) => body[name] !== undefined);
    const password = field === undefined ? undefined : text(body, field);
    if (field === undefined && options.recentLogin) {
      const recent = await recentLogin(req, res, options.audit);
      if (recent === null) return;
      markReauthenticated(res, recent);
      return next();
    }
    const state = await checks.confirmPassword(req, res, options.audit, password, options.wrongStatus ?? 400);
    if (state === null) return;
    markReauthenticated(res, state);
    next();
  };

  return {
    chain(spec, body) {
      switch (spec.guard) {
        case 'PUBLIC':
          return [...body];
        case 'READ':
          return [requireAuth, ...body];
        case 'ADMIN':
          return [admin, ...body];
        case 'SETUP_CODE':
          return [...body, setupCode(spec.setup)];
        case 'ADMIN_REAUTH':
          return [admin, ...body, reauth(spec.reauth)];
      }
    },
    ticketOwner(req) {
      const url = req.url ?? '';
      const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
      return tickets.consume(new URLSearchParams(query).get('ticket'));
    },
  };
}
