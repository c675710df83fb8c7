import type { Logger } from 'pino';
import { ConfigError } from '../../lib/errors.ts';
import { logField } from '../../lib/log-field.ts';
import type { Storage } from '../storage/storage.ts';
import type { AuthenticationType } from '../storage/types.ts';
import { validateRegulation } from './options.ts';
import type { RegulationMode, RegulationOptions } from './options.ts';
import { normaliseIp } from '../../lib/net/address.ts';
import { normaliseUsername } from './subjects.ts';

/** The part of Storage the regulator uses (a test can hand in anything with these methods). */
export type RegulationStore = Pick<
  Storage,
  'appendAuthenticationLog' | 'loadAuthenticationLogs' | 'loadAuthenticationLogsByIp' | 'banUser' | 'banIp' | 'activeUserBan' | 'activeIpBan'
>;

export interface BanState {
  banned: boolean;
  /** ms epoch when the ban ends; absent when not banned or banned until revoked */
  until?: number;
}

export interface AttemptRecord {
  username: string;
  ip: string;
  successful: boolean;
  authType: AuthenticationType;
  requestUri: string;
  requestMethod: string;
}

// Only a failed password can ban: a wrong TOTP code comes after the password already succeeded.
const FIRST_FACTOR: readonly AuthenticationType[] = ['1fa', 'basic'];
const SOURCE = 'regulation';

/**
 * Brute-force protection: records every authentication attempt and bans a user (and/or IP, per
 * `modes`) after `max_retries` failed first-factor attempts within `find_time`. Bans live in the
 * database, so every instance sharing it enforces them.
 */
export class Regulator {
  readonly #options: RegulationOptions;
  readonly #storage: RegulationStore;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #canonicalise: (login: string) => string | null;

  /**
   * `canonicalise` maps a login to the account it names (e.g. an e-mail address under
   * `search.email`, or another spelling under `search.case_insensitive`) and returns null for an
   * unknown login; failures are then counted per account, so each spelling does not get its own
   * `max_retries`. Without it, each normalised login is its own subject.
   */
  constructor(init: {
    options: RegulationOptions;
    storage: RegulationStore;
    logger: Logger;
    now?: () => number;
    canonicalise?: (login: string) => string | null;
  }) {
    const problems = validateRegulation(init.options);
    if (problems.length > 0) throw new ConfigError(problems);
    this.#options = { ...init.options, modes: [...init.options.modes] };
    this.#storage = init.storage;
    this.#logger = init.logger;
    this.#now = init.now ?? Date.now;
    this.#canonicalise = init.canonicalise ?? (() => null);
  }

  /** The name failures and bans are kept under: the account's canonical name when the login names one. */
  #subject(login: string): string {
    return normaliseUsername(this.#canonicalise(login) ?? login);
  }

  /**
   * Whether a ban stored for this user or IP is in force. Checked whatever `modes` and
   * `max_retries` say: a ban an operator added by hand still holds when automatic bans are off.
   */
  async isBanned(username: string, ip: string): Promise<BanState> {
    return this.#activeBan(this.#subject(username), normaliseIp(ip), this.#now());
  }

  /** Records the attempt and bans if it was the failure that crossed `max_retries`. Returns the ban state after it. */
  async mark(attempt: AttemptRecord): Promise<BanState> {
    const now = this.#now();
    const username = this.#subject(attempt.username);
    const ip = normaliseIp(attempt.ip);
    const current = await this.#activeBan(username, ip, now);
    await this.#storage.appendAuthenticationLog({
      time: now,
      successful: attempt.successful,
      banned: current.banned,
      username,
      authType: attempt.authType,
      remoteIp: ip,
      requestUri: attempt.requestUri,
      requestMethod: attempt.requestMethod,
    });
    if (attempt.successful || current.banned || this.#options.max_retries === 0 || !FIRST_FACTOR.includes(attempt.authType)) {
      return current;
    }
    let state = current;
    for (const mode of this.#options.modes) {
      const value = mode === 'user' ? username : ip;
      if (value === '' || !(await this.#streakReached(mode, value, now))) continue;
      // Expires ban_time after the failure that triggered it (Authelia: after the first failure),
      // so every ban lasts the full ban_time.
      const until = now + this.#options.ban_time * 1000;
      const ban = { time: now, expires: until, source: SOURCE, reason: `${this.#options.max_retries} failed attempts within ${this.#options.find_time}s` };
      if (mode === 'user') await this.#storage.banUser({ ...ban, username });
      else await this.#storage.banIp({ ...ban, ip });
      // the name is client-chosen: sanitised in the message (Fail2Ban and people read it), exact in the fields
      this.#logger.warn(
        { event: 'regulation.ban', mode, username, ip, until },
        `regulation: banned ${mode} '${logField(value)}' until ${new Date(until).toISOString()}`,
      );
      state = { banned: true, until: Math.max(until, state.until ?? 0) };
    }
    return state;
  }

  /** max_retries failures in a row (newest first, back to the last success) within find_time. */
  async #streakReached(mode: RegulationMode, value: string, now: number): Promise<boolean> {
    const { max_retries, find_time } = this.#options;
    const since = now - find_time * 1000;
    // attempts refused during a ban do not count towards the next one
    const filter = { authTypes: FIRST_FACTOR, banned: false };
    const recent =
      mode === 'user'
        ? await this.#storage.loadAuthenticationLogs(value, since, max_retries, filter)
        : await this.#storage.loadAuthenticationLogsByIp(value, since, max_retries, filter);
    return recent.length >= max_retries && recent.every((attempt) => !attempt.successful);
  }

  async #activeBan(username: string, ip: string, now: number): Promise<BanState> {
    const [userBan, ipBan] = await Promise.all([
      username === '' ? undefined : this.#storage.activeUserBan(username, now),
      ip === '' ? undefined : this.#storage.activeIpBan(ip, now),
    ]);
    const bans = [userBan, ipBan].filter((ban) => ban !== undefined);
    if (bans.length === 0) return { banned: false };
    if (bans.some((ban) => ban.expires === null)) return { banned: true };
    return { banned: true, until: Math.max(...bans.map((ban) => ban.expires ?? 0)) };
  }
}
