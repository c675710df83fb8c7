/**
 * Terminal tickets: a WebSocket cannot carry a Bearer header, so an authenticated
 * `POST /api/terminal/ticket` hands out a short-lived, single-use ticket that `/ws/terminal?ticket=`
 * redeems. Kept in memory only; a restart voids every ticket, which is what we want.
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';

/** The answer of `POST /api/terminal/ticket` (ProxMenux's shape). */
export interface TerminalTicket {
  ticket: string;
  ttl_seconds: number;
}

/** Who asked for a ticket; the terminal logs the username, the rest is carried through untouched. */
export interface TicketIdentity {
  username: string;
}

export interface TicketStoreOptions {
  now?: () => number;
  randomBytes?: (size: number) => Buffer;
  ttlSeconds?: number;
  /** Tickets in flight; issuing one more drops the oldest. */
  maxOutstanding?: number;
}

export const TICKET_TTL_SECONDS = 5;
export const MAX_OUTSTANDING_TICKETS = 256;
const TICKET_BYTES = 32;

interface Pending<Identity> {
  identity: Identity;
  expiresAt: number;
}

export class TicketStore<Identity extends TicketIdentity = TicketIdentity> {
  // Map keeps insertion order, so the first key is always the oldest ticket.
  readonly #pending = new Map<string, Pending<Identity>>();
  readonly #now: () => number;
  readonly #randomBytes: (size: number) => Buffer;
  readonly #ttlMs: number;
  readonly #ttlSeconds: number;
  readonly #maxOutstanding: number;

  constructor(options: TicketStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#randomBytes = options.randomBytes ?? cryptoRandomBytes;
    this.#ttlSeconds = options.ttlSeconds ?? TICKET_TTL_SECONDS;
    this.#ttlMs = this.#ttlSeconds * 1000;
    this.#maxOutstanding = options.maxOutstanding ?? MAX_OUTSTANDING_TICKETS;
  }

  issue(identity: Identity): TerminalTicket {
    this.#dropExpired();
    while (this.#pending.size >= this.#maxOutstanding) {
      const oldest = this.#pending.keys().next();
      if (oldest.done === true) break;
      this.#pending.delete(oldest.value);
    }
    const ticket = this.#randomBytes(TICKET_BYTES).toString('base64url');
    this.#pending.set(ticket, { identity, expiresAt: this.#now() + this.#ttlMs });
    return { ticket, ttl_seconds: this.#ttlSeconds };
  }

  /**
   * Redeems a ticket: the identity it was issued to, or null (unknown, already used, expired).
   * Lookup and removal happen in one synchronous step, so two connections cannot share a ticket.
   */
  consume(ticket: string | null | undefined): Identity | null {
    if (typeof ticket !== 'string' || ticket === '') return null;
    const pending = this.#pending.get(ticket);
    if (pending === undefined) return null;
    this.#pending.delete(ticket);
    return this.#now() < pending.expiresAt ? pending.identity : null;
  }

  /** Tickets issued and neither redeemed nor expired. */
  get outstanding(): number {
    this.#dropExpired();
    return this.#pending.size;
  }

  #dropExpired(): void {
    const now = this.#now();
    for (const [ticket, pending] of this.#pending) if (now >= pending.expiresAt) this.#pending.delete(ticket);
  }
}
