/**
 * The guards of the monitor's route table (monitor/routes.ts), each written once here; the table
 * names one on every row. Before any of them, every request under /api has been identified
 * (auth/identity.ts) and a read_only identity refused anything but GET and HEAD.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { markReauthenticated, markSetupProven, type CredentialChecks } from './auth/credential-check.ts';
import type { MonitorAuthDeps } from './auth/deps.ts';
import { requireAuth, requireScope } from './auth/identity.ts';
import { bodyOf, text } from './api/json-api.ts';
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
  ADMIN_REAUTH: "a full_admin identity that re-entered the local account's password (and, with 2FA on, a current code, checked with the change)",
  TICKET: 'a single-use ticket from POST /api/terminal/ticket, spent before anything else',
};

/** The first-run actions behind SETUP_CODE, as auth.log names them (method=). */
export type SetupAction = 'setup' | 'skip' | 'decline';

/** Where ADMIN_REAUTH finds the re-entered password, and what it is audited under. */
export interface ReauthOptions {
  /** The name the attempt is counted and audited under (auth.log's method=). */
  audit: string;
  /** The body field holding the password (ProxMenux's change-password calls it `old_password`). */
  passwordField?: 'password' | 'old_password';
  /** The status of a wrong password: 400, or 401 where ProxMenux's clients expect it. */
  wrongStatus?: 400 | 401;
}

/** A row's guard and what that guard needs to know of the row. */
export type HttpGuardSpec =
  | { guard: 'PUBLIC' | 'READ' | 'ADMIN' }
  | { guard: 'SETUP_CODE'; setup: SetupAction }
  | { guard: 'ADMIN_REAUTH'; reauth: ReauthOptions };

export interface GuardDeps {
  auth: Pick<MonitorAuthDeps, 'store' | 'setupCode'>;
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

  const reauth = (options: ReauthOptions): RequestHandler => async (req, res, next) => {
    const password = text(bodyOf(req), options.passwordField ?? 'password');
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
