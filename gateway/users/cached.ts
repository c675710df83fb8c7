/**
 * User details cached in front of any user provider, per `authentication_backend.refresh_interval`, so
 * forward auth does not ask the backend at every request (an LDAP search each time) and a change there
 * still shows within the interval.
 *
 * An entry younger than the interval is answered from memory. An older one, for at most STALE_GRACE_MS
 * more, is still answered while one lookup refreshes it in the background: the hot path does not wait
 * for the backend, and a user removed or disabled there is refused once that lookup returns, so at most
 * the interval plus one lookup after the entry was read. Past that grace the request waits for the
 * lookup. `always` caches nothing; `disable` keeps details until a reload. Whatever the interval, a
 * reload (SIGHUP, the file watcher, an edit through UserAdmin) drops every entry at once.
 */
import type { Logger } from 'pino';
import { createOutageLog, type OutageLog } from '../../lib/outage-log.ts';
import type { ReloadResult, UserDetails, UserProvider } from './provider.ts';

/** Milliseconds; `always`: every request asks the provider; `disable`: details are kept until a reload. */
export type RefreshInterval = number | 'always' | 'disable';

/** How long past the interval an entry is still answered while its refresh runs (at most the interval itself). */
export const STALE_GRACE_MS = 10_000;
/** Users whose details are kept; past it the entry refreshed longest ago goes first. */
export const DETAILS_CACHE_MAX_ENTRIES = 10_000;

export interface CachedUserProviderOptions {
  refreshInterval: RefreshInterval;
  now: () => number;
  logger: Logger;
  maxEntries?: number;
}

/** One read of the provider: its number (see #reads) and when it began (what it returns is that old). */
interface Read {
  read: number;
  at: number;
}

interface Entry extends Read {
  details: UserDetails | null;
}

export class CachedUserProvider implements UserProvider {
  readonly #inner: UserProvider;
  readonly #interval: RefreshInterval;
  readonly #grace: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #outage: OutageLog;
  /** Canonical username → details (null: unknown or disabled), the one stored longest ago first. */
  readonly #entries = new Map<string, Entry>();
  /** One lookup per user at a time: a miss and a background refresh share it. */
  readonly #lookups = new Map<string, Promise<UserDetails | null>>();
  /** Numbers every read of the provider in the order they began: a slower, older read never overwrites a newer one. */
  #reads = 0;
  /** Reads numbered up to this began before the last clear: what they return is not kept. */
  #clearedAt = 0;

  constructor(inner: UserProvider, options: CachedUserProviderOptions) {
    this.#inner = inner;
    this.#interval = options.refreshInterval === 0 ? 'always' : options.refreshInterval;
    this.#grace = typeof this.#interval === 'number' ? Math.min(STALE_GRACE_MS, this.#interval) : 0;
    this.#maxEntries = options.maxEntries ?? DETAILS_CACHE_MAX_ENTRIES;
    this.#now = options.now;
    this.#outage = createOutageLog(options.logger, 'user backend (refreshing details)', { now: options.now });
    inner.onChange?.(() => this.clear());
  }

  peekDetails(username: string): UserDetails | null | undefined {
    if (this.#interval === 'always') return this.#inner.peekDetails?.(username);
    const entry = this.#entries.get(username);
    const age = entry === undefined ? Infinity : this.#now() - entry.at;
    if (entry !== undefined && (this.#interval === 'disable' || age < this.#interval)) return entry.details;
    // expired or missing: a provider that holds its users in memory answers now
    const read = this.#beginRead();
    const known = this.#inner.peekDetails?.(username);
    if (known !== undefined) {
      this.#store(username, known, read);
      return known;
    }
    if (entry !== undefined && age < (this.#interval as number) + this.#grace) {
      this.#refreshInBackground(username);
      return entry.details;
    }
    return undefined;
  }

  getDetails(username: string): Promise<UserDetails | null> {
    const known = this.peekDetails(username);
    return known !== undefined ? Promise.resolve(known) : this.#lookup(username);
  }

  resolveLogin(login: string): Promise<string | null> {
    return this.#inner.resolveLogin(login);
  }

  /** A login's details are the newest there are: kept, so the request after the login needs no lookup. */
  async verifyPassword(login: string, password: string): Promise<UserDetails | null> {
    const read = this.#beginRead();
    const details = await this.#inner.verifyPassword(login, password);
    if (details !== null && this.#interval !== 'always') this.#store(details.username, details, read);
    return details;
  }

  /** Everything is dropped (rare; the name given may be another spelling of the canonical one). */
  async updatePassword(username: string, newPassword: string): Promise<void> {
    try {
      await this.#inner.updatePassword(username, newPassword);
    } finally {
      this.clear();
    }
  }

  startupCheck(): Promise<void> {
    return this.#inner.startupCheck();
  }

  /** The provider re-reads what it can; either way every cached entry goes (SIGHUP: "look again now"). */
  async reload(): Promise<ReloadResult> {
    try {
      return this.#inner.reload ? await this.#inner.reload() : { status: 'loaded' };
    } finally {
      this.clear();
    }
  }

  /**
   * Drops every entry. Lookups already running keep their answer to their own callers: one who asks
   * after the clear starts a lookup of its own (a reload may have disabled the user meanwhile).
   */
  clear(): void {
    this.#entries.clear();
    this.#lookups.clear();
    this.#clearedAt = this.#reads;
  }

  async close(): Promise<void> {
    this.clear();
    await this.#inner.close();
  }

  #lookup(username: string): Promise<UserDetails | null> {
    const running = this.#lookups.get(username);
    if (running !== undefined) return running;
    const read = this.#beginRead();
    const lookup = this.#inner
      .getDetails(username)
      .then((details) => {
        this.#outage.success();
        this.#store(username, details, read);
        return details;
      })
      .finally(() => {
        if (this.#lookups.get(username) === lookup) this.#lookups.delete(username);
      });
    this.#lookups.set(username, lookup);
    return lookup;
  }

  /** The stale entry keeps answering until its grace ends; a failure is the outage log's to report. */
  #refreshInBackground(username: string): void {
    if (this.#lookups.has(username)) return;
    this.#lookup(username).catch((error: unknown) => this.#outage.failure(error));
  }

  #beginRead(): Read {
    return { read: ++this.#reads, at: this.#now() };
  }

  #store(username: string, details: UserDetails | null, { read, at }: Read): void {
    if (read <= this.#clearedAt) return;
    const current = this.#entries.get(username);
    if (current !== undefined && current.read > read) return;
    this.#entries.delete(username); // re-inserted last: the first entry is the one stored longest ago
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(username, { details, read, at });
  }
}
