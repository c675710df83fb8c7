/**
 * An open terminal lives no longer than the identity that opened it. Every session is bound to that
 * identity and checked again, at least every `terminal.refresh_interval`, and whenever auth.json
 * changes (app.ts calls recheck()):
 *  - a session or API token (Bearer or Basic) is run through checkToken() again, as a new request
 *    would be: revoked, deleted, expired, superseded by a logout, password change, disable, reset or
 *    a new jwt_secret all end it;
 *  - a gateway identity (Remote-User) cannot be asked of auth.json: the gateway alone knows whether
 *    its session still holds. So the page that opened the terminal re-confirms it by sending
 *    `POST /api/terminal/renew` through the gateway (every third of the interval): the gateway lets
 *    the request through only while the sign-in holds and the user exists and is enabled, and adds a
 *    fresh signed assertion. A terminal whose last confirmation is older than the interval, or whose
 *    confirmation names another user, is closed.
 * Closing sends 4401 with "Your sign-in ended: <why>" and hangs up the shell.
 */
import { randomBytes } from 'node:crypto';
import type { Identity } from '../auth/identity.ts';
import type { AuthState } from '../auth/store.ts';
import { checkToken, type TokenRefusal } from '../auth/tokens.ts';
import type { SessionOwner, TerminalServer } from './server.ts';
import { TICKET_TTL_SECONDS } from './tickets.ts';

const ENDED = 'Your sign-in ended';

const TOKEN_ENDINGS: Record<TokenRefusal, string> = {
  revoked: `${ENDED}: its token was revoked`,
  superseded: `${ENDED}: signed out, password changed or login disabled`,
  not_listed: `${ENDED}: its API token was deleted`,
  invalid: `${ENDED}: its token expired or is no longer valid`,
};
export const GATEWAY_STOPPED = `${ENDED}: the gateway no longer vouches for it (signed out, removed or disabled)`;
export const GATEWAY_OTHER_USER = `${ENDED}: the gateway now signs in another user`;
const UNCHECKED = `${ENDED}: the monitor could not check it`;
const UNCHECKABLE = `${ENDED}: the monitor cannot check it (its account file is unreadable)`;

/**
 * Bindings kept at most. When full, only one that can no longer keep a terminal alive is dropped (no
 * open terminal and older than a ticket could wait, or a terminal whose confirmation is overdue);
 * if none can be, the new ticket is refused: a flood of tickets never closes someone else's terminal.
 */
export const MAX_BINDINGS = 1024;
/** How long a binding without a terminal is kept for its ticket (twice as long as a ticket lives). */
const PENDING_BINDING_MS = 2 * TICKET_TTL_SECONDS * 1000;
export const BINDINGS_FULL = 'Too many terminals are open or being opened; try again shortly';

export type RenewOutcome = { ok: true } | { ok: false; status: 403 | 404; message: string };

export interface TerminalIdentityCheck {
  /** A new binding id for a ticket about to be issued (the page renews the terminal with it), or null when every binding held still keeps a terminal alive. */
  bind(): string | null;
  /** Seconds between the page's renewals. */
  readonly renewSeconds: number;
  /** The page re-confirms the identity of the terminal bound to `binding` with this request's identity. */
  renew(binding: unknown, identity: Identity): RenewOutcome;
  /** Checks every open terminal against `state` (null: auth.json unusable) and the clock; closes those whose identity ended. */
  recheck(state: AuthState | null): Promise<number>;
}

export interface TerminalIdentityCheckOptions {
  terminal: Pick<TerminalServer, 'closeSessions' | 'owners'>;
  /** terminal.refresh_interval, in milliseconds. */
  refreshIntervalMs: number;
  now: () => number;
  randomBytes?: (size: number) => Buffer;
}

export function createTerminalIdentityCheck(options: TerminalIdentityCheckOptions): TerminalIdentityCheck {
  const { terminal, refreshIntervalMs, now } = options;
  const random = options.randomBytes ?? randomBytes;
  /** binding → when the gateway last vouched for its owner (epoch ms). */
  const confirmed = new Map<string, number>();

  const ownerOf = (binding: string): SessionOwner | undefined => terminal.owners().find((o) => o.binding === binding);

  async function whyEnded(owner: SessionOwner, state: AuthState | null, at: number): Promise<string | null> {
    if (owner.via === 'remote_user') {
      const last = owner.binding === undefined ? undefined : confirmed.get(owner.binding);
      return last !== undefined && at - last <= refreshIntervalMs ? null : GATEWAY_STOPPED;
    }
    // fail closed: a token terminal whose token we cannot check again does not keep running
    if (owner.bearer === undefined) return TOKEN_ENDINGS.invalid;
    if (state === null) return UNCHECKABLE;
    const check = await checkToken(state, owner.bearer, at);
    return check.ok ? null : TOKEN_ENDINGS[check.reason];
  }

  return {
    renewSeconds: Math.max(1, Math.floor(refreshIntervalMs / 3000)),

    bind() {
      if (confirmed.size >= MAX_BINDINGS) {
        const at = now();
        const live = new Map(terminal.owners().map((o) => [o.binding, o]));
        // never the binding of a running terminal that still holds (that would close it), nor one whose ticket may still be redeemed
        const spent = (binding: string, last: number) => {
          const owner = live.get(binding);
          if (owner === undefined) return at - last > PENDING_BINDING_MS;
          return owner.via === 'remote_user' && at - last > refreshIntervalMs; // closed at the next check anyway
        };
        for (const [binding, last] of confirmed) {
          if (confirmed.size < MAX_BINDINGS) break;
          if (spent(binding, last)) confirmed.delete(binding);
        }
        if (confirmed.size >= MAX_BINDINGS) return null;
      }
      const binding = random(32).toString('base64url');
      confirmed.set(binding, now());
      return binding;
    },

    renew(binding, identity) {
      const owner = typeof binding === 'string' && confirmed.has(binding) ? ownerOf(binding) : undefined;
      if (owner === undefined || typeof binding !== 'string') return { ok: false, status: 404, message: 'No open terminal with that session id' };
      if (owner.via !== 'remote_user') return { ok: true }; // its token is re-checked here, nothing to confirm
      if (identity.via !== 'remote_user' || identity.username !== owner.username) {
        // the browser now carries another sign-in: the terminal of the previous one ends now
        terminal.closeSessions((o) => o === owner, GATEWAY_OTHER_USER);
        return { ok: false, status: 403, message: 'This terminal was opened by another sign-in; it has been closed' };
      }
      confirmed.set(binding, now());
      return { ok: true };
    },

    async recheck(state) {
      const at = now();
      const owners = terminal.owners();
      const live = new Set(owners.map((o) => o.binding));
      // a binding whose ticket was never redeemed is dropped once it could not confirm anything any more
      for (const [binding, last] of confirmed) if (!live.has(binding) && at - last > refreshIntervalMs) confirmed.delete(binding);
      const endings = new Map<SessionOwner, string>();
      for (const owner of owners) {
        // one owner that cannot be checked closes its own terminal, and never keeps the others' open
        const why = await whyEnded(owner, state, at).catch(() => UNCHECKED);
        if (why !== null) endings.set(owner, why);
      }
      let closed = 0;
      for (const why of new Set(endings.values())) closed += terminal.closeSessions((o) => endings.get(o) === why, why);
      for (const owner of endings.keys()) if (owner.binding !== undefined) confirmed.delete(owner.binding);
      return closed;
    },
  };
}
