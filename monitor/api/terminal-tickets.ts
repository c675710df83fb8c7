/**
 * The two HTTP endpoints of the web terminal, both ADMIN: a single-use ticket for `WS /ws/terminal`
 * (a WebSocket cannot carry a Bearer header), and the page's renewal of a gateway sign-in while the
 * terminal is open (monitor/terminal/identity-check.ts).
 */
import type { RequestHandler } from 'express';
import { BINDINGS_FULL, type TerminalIdentityCheck } from '../terminal/identity-check.ts';
import type { SessionOwner, TerminalServer } from '../terminal/server.ts';
import type { TicketStore } from '../terminal/tickets.ts';
import { bodyOf } from './json-api.ts';

export interface TerminalTicketHandlers {
  ticket: RequestHandler;
  renew: RequestHandler;
}

export interface TerminalTicketDeps {
  tickets: Pick<TicketStore<SessionOwner>, 'issue'>;
  /** Binds each terminal to the identity that opened it; the page renews a gateway identity through it. */
  terminalIdentity: Pick<TerminalIdentityCheck, 'bind' | 'renew' | 'renewSeconds'>;
  /** Which OS account the shell will be, told to the page before it connects. */
  terminal: Pick<TerminalServer, 'runAs'>;
}

export function createTerminalTicketHandlers({ tickets, terminalIdentity, terminal }: TerminalTicketDeps): TerminalTicketHandlers {
  const ticket: RequestHandler = (req, res) => {
    const { username, via, jti, sessionGeneration: generation } = req.identity!;
    const binding = terminalIdentity.bind();
    // every binding held keeps a terminal alive: refuse this one rather than close someone else's
    if (binding === null) return void res.status(503).set({ 'Retry-After': '10', 'Cache-Control': 'no-store' }).json({ success: false, message: BINDINGS_FULL });
    // the owner, with its credential, is kept so that the session ends when that credential does
    const issued = tickets.issue({ username, via, jti, generation, bearer: req.bearerToken, binding });
    // `session` and `renew_seconds`: the page re-confirms a gateway sign-in with them (terminal/identity-check.ts)
    // `run_as`: the OS account of the shell (null when terminals are refused), so the page says whose shell it is
    res.set('Cache-Control', 'no-store').json({ ...issued, session: binding, renew_seconds: terminalIdentity.renewSeconds, run_as: terminal.runAs() });
  };

  // sent through the gateway while the terminal is open: it only arrives while the gateway still vouches for the user
  const renew: RequestHandler = (req, res) => {
    const outcome = terminalIdentity.renew(bodyOf(req).session, req.identity!);
    res.set('Cache-Control', 'no-store');
    if (outcome.ok) res.json({ success: true, renew_seconds: terminalIdentity.renewSeconds });
    else res.status(outcome.status).json({ success: false, message: outcome.message });
  };

  return { ticket, renew };
}
