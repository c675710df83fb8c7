import type { Logger } from 'pino';
import { ConfigError } from '../../lib/errors.ts';
import { logField } from '../../lib/log-field.ts';
import type { BanRepository } from '../storage/bans.ts';
import type { Storage, StorageTransaction } from '../storage/storage.ts';
import type { AuthenticationType } from '../storage/types.ts';
import { validateRegulation } from './options.ts';
import type { RegulationMode, RegulationOptions } from './options.ts';
import { ipSubject, normaliseUsername } from './subjects.ts';

/** The repositories a reservation's transaction uses (bound to the transaction). */
interface ReservationTx extends Pick<StorageTransaction, 'authenticationLogs' | 'attemptReservations'> {
  readonly bans: Pick<BanRepository, 'banUser' | 'banIp' | 'activeUserBan' | 'activeIpBan' | 'lastUserRevocation' | 'lastIpRevocation'>;
}

/** The part of Storage the regulator uses (a test can hand in anything with these repositories). */
export type RegulationStore = ReservationTx & Pick<Storage, 'exclusively'>;

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

/**
 * A first-factor attempt, counted before its password is checked. `admitted: false` means the
 * password must not be checked now: `banned`, a ban is in force (or the failures so far reach
 * max_retries); `attempts_in_flight`, the failures so far plus the attempts being checked right now
 * reach max_retries, so the attempt may be admitted once those are settled (nextSettle()).
 */
export type Reservation =
  | { admitted: true; id: number; username: string; ip: string }
  | { admitted: false; reason: 'banned' | 'attempts_in_flight'; ban: BanState };

export interface AttemptContext {
  username: string;
  ip: string;
  authType: AuthenticationType;
  requestUri: string;
  requestMethod: string;
}

/** A reservation nobody settles (the instance crashed or hung) stops counting after this long. */
const RESERVATION_TTL_MS = 60_000;

// A failed password bans per `modes`; max_retries wrong second-factor codes in a row ban the account
// as well (as Authelia's regulation counts them): whoever is guessing already has the password.
const FIRST_FACTOR: readonly AuthenticationType[] = ['1fa', 'basic'];
const SECOND_FACTOR: readonly AuthenticationType[] = ['totp', 'webauthn', 'passkey', 'recovery_code'];
const SOURCE = 'regulation';

/**
 * Brute-force protection: records every authentication attempt and bans a user (and/or IP, per
 * `modes`) after `max_retries` failed first-factor attempts within `find_time`, and the user after
 * `max_retries` wrong second-factor codes in a row within it. Bans live in the database, so every
 * instance sharing it enforces them.
 */
export class Regulator {
  readonly #options: RegulationOptions;
  readonly #storage: RegulationStore;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #canonicalise: (login: string) => string | null | Promise<string | null>;
  /** Resolved (and replaced) at every settle or cancel in this process. */
  #settled = Promise.withResolvers<void>();

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
    canonicalise?: (login: string) => string | null | Promise<string | null>;
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
  async #subject(login: string): Promise<string> {
    return normaliseUsername((await this.#canonicalise(login)) ?? login);
  }

  /**
   * Whether a ban stored for this user or IP is in force. Checked whatever `modes` and
   * `max_retries` say: a ban an operator added by hand still holds when automatic bans are off.
   */
  async isBanned(username: string, ip: string): Promise<BanState> {
    return this.#activeBan(await this.#subject(username), ipSubject(ip), this.#now());
  }

  /**
   * Counts the attempt before any password is hashed, atomically for every instance sharing the
   * database: per account and per client address (as `modes` says), the failures in a row so far plus
   * the attempts still being checked must stay under max_retries, else the attempt is refused
   * unchecked (and recorded as refused). An admitted attempt counts as a failure until settle() or
   * cancel(); if neither comes, it expires after RESERVATION_TTL_MS.
   */
  async reserve(attempt: AttemptContext): Promise<Reservation> {
    const now = this.#now();
    const username = await this.#subject(attempt.username);
    const ip = ipSubject(attempt.ip);
    const { max_retries, modes } = this.#options;
    const counted = FIRST_FACTOR.includes(attempt.authType) && max_retries > 0;
    const secondFactor = SECOND_FACTOR.includes(attempt.authType) && max_retries > 0;
    const outcome = await this.#storage.exclusively([`regulation:user:${username}`, `regulation:ip:${ip}`], async (tx): Promise<Reservation> => {
      // a write first: on SQLite it takes the database's write lock, so the reads below see every
      // other instance's reservations (PostgreSQL: the advisory locks already did that)
      await tx.attemptReservations.deleteExpired(now);
      const ban = await this.#activeBan(username, ip, now, tx);
      if (ban.banned) return { admitted: false, reason: 'banned', ban };
      const id = await tx.attemptReservations.insert({ time: now, expires: now + RESERVATION_TTL_MS, username, remoteIp: ip });
      if (secondFactor && username !== '') {
        // guessing stops at max_retries wrong codes in a row within find_time, counting the codes being
        // checked right now (a burst in parallel too); the settle of the last one bans the account
        const streak = await this.#secondFactorStreak(username, now, tx);
        const inFlight = streak.failures >= max_retries ? 0 : await tx.attemptReservations.count('username', username, now, id);
        if (streak.failures + inFlight >= max_retries) {
          await tx.attemptReservations.delete(id);
          return { admitted: false, reason: streak.failures >= max_retries ? 'banned' : 'attempts_in_flight', ban: { banned: false, ...(streak.until !== undefined ? { until: streak.until } : {}) } };
        }
      }
      if (counted) {
        for (const mode of modes) {
          const value = mode === 'user' ? username : ip;
          if (value === '') continue;
          const failures = await this.#failureStreak(mode, value, now, tx);
          const inFlight = failures >= max_retries ? 0 : await tx.attemptReservations.count(mode === 'user' ? 'username' : 'remote_ip', value, now, id);
          if (failures + inFlight >= max_retries) {
            await tx.attemptReservations.delete(id);
            // only the attempts in flight stand in the way: once they are settled this one may pass
            return { admitted: false, reason: failures >= max_retries ? 'banned' : 'attempts_in_flight', ban: { banned: false } };
          }
        }
      }
      return { admitted: true, id, username, ip };
    });
    if (!outcome.admitted && outcome.reason === 'banned') {
      // recorded as refused (`banned`): it was never checked, so it does not count towards a later ban
      await this.#storage.authenticationLogs.append({
        time: now,
        successful: false,
        banned: true,
        username,
        authType: attempt.authType,
        remoteIp: ip,
        requestUri: attempt.requestUri,
        requestMethod: attempt.requestMethod,
      });
    }
    return outcome;
  }

  /**
   * The checked attempt's result: recorded (a failure may ban, as mark() does) and the reservation
   * removed in one transaction under reserve()'s locks, so a reserve() never sees the reservation gone
   * and the failure not yet recorded (it would let one guess more through).
   */
  async settle(reservation: Extract<Reservation, { admitted: true }>, attempt: AttemptRecord): Promise<BanState> {
    const { username, ip } = reservation;
    try {
      return await this.#storage.exclusively([`regulation:user:${username}`, `regulation:ip:${ip}`], async (tx) => {
        // the delete first: on SQLite it takes the write lock before the reads in #mark
        await tx.attemptReservations.delete(reservation.id);
        // the name reserve() resolved: the user backend is never asked while the locks are held
        return this.#mark(attempt, { username, ip }, tx);
      });
    } finally {
      this.#wake();
    }
  }

  /**
   * Runs the check an admitted reservation is for. When the check itself fails (the database or a
   * library threw), the reservation is cancelled rather than left to count as a failure in flight until
   * it expires; the caller settles it when the check answers.
   */
  async checkReserved<T>(reservation: Extract<Reservation, { admitted: true }>, check: () => Promise<T>): Promise<T> {
    try {
      return await check();
    } catch (error) {
      await this.cancel(reservation);
      throw error;
    }
  }

  /** The attempt was not checked after all (e.g. too many password checks in flight): it does not count. */
  async cancel(reservation: Extract<Reservation, { admitted: true }>): Promise<void> {
    try {
      await this.#storage.attemptReservations.delete(reservation.id);
    } finally {
      this.#wake();
    }
  }

  /**
   * Resolves at the next settle() or cancel() in this process. Another instance's settles are not
   * seen here: a caller waiting for attempts in flight also polls.
   */
  nextSettle(): Promise<void> {
    return this.#settled.promise;
  }

  #wake(): void {
    const settled = this.#settled;
    this.#settled = Promise.withResolvers<void>();
    settled.resolve();
  }

  /** Records the attempt and bans if it was the failure that crossed `max_retries`. Returns the ban state after it. */
  async mark(attempt: AttemptRecord): Promise<BanState> {
    return this.#mark(attempt, { username: await this.#subject(attempt.username), ip: ipSubject(attempt.ip) }, this.#storage);
  }

  /** `subject`: the attempt's account name and address, already resolved and normalised. */
  async #mark(attempt: AttemptRecord, subject: { username: string; ip: string }, storage: ReservationTx): Promise<BanState> {
    const now = this.#now();
    const { username, ip } = subject;
    const current = await this.#activeBan(username, ip, now, storage);
    await storage.authenticationLogs.append({
      time: now,
      successful: attempt.successful,
      banned: current.banned,
      username,
      authType: attempt.authType,
      remoteIp: ip,
      requestUri: attempt.requestUri,
      requestMethod: attempt.requestMethod,
    });
    if (attempt.successful || current.banned || this.#options.max_retries === 0) return current;
    if (SECOND_FACTOR.includes(attempt.authType)) {
      if (username === '' || (await this.#secondFactorStreak(username, now, storage)).failures < this.#options.max_retries) return current;
      return this.#ban('user', username, ip, username, now, storage, current, 'wrong second-factor codes');
    }
    if (!FIRST_FACTOR.includes(attempt.authType)) return current;
    let state = current;
    for (const mode of this.#options.modes) {
      const value = mode === 'user' ? username : ip;
      if (value === '' || !((await this.#failureStreak(mode, value, now, storage)) >= this.#options.max_retries)) continue;
      state = await this.#ban(mode, value, ip, username, now, storage, state, 'failed attempts');
    }
    return state;
  }

  /**
   * Bans `value` (a user or an address) for ban_time from now: from the failure that triggered it
   * (Authelia: from the first failure), so every ban lasts the full ban_time.
   */
  async #ban(mode: RegulationMode, value: string, ip: string, username: string, now: number, storage: Pick<ReservationTx, 'bans'>, state: BanState, what: string): Promise<BanState> {
    const until = now + this.#options.ban_time * 1000;
    const ban = { time: now, expires: until, source: SOURCE, reason: `${this.#options.max_retries} ${what} within ${this.#options.find_time}s` };
    if (mode === 'user') await storage.bans.banUser({ ...ban, username: value });
    else await storage.bans.banIp({ ...ban, ip: value });
    // the name is client-chosen: sanitised in the message (Fail2Ban and people read it), exact in the fields
    this.#logger.warn(
      { event: 'regulation.ban', mode, username, ip, until },
      `regulation: banned ${mode} '${logField(value)}' until ${new Date(until).toISOString()}`,
    );
    return { banned: true, until: Math.max(until, state.until ?? 0) };
  }

  /**
   * Failures in a row, newest first, back to the last success, within find_time (at most max_retries)
   * and after the last revoked ban: `gatehouse regulation unban` gives the subject a fresh count.
   */
  async #failureStreak(mode: RegulationMode, value: string, now: number, storage: ReservationTx): Promise<number> {
    const { max_retries, find_time } = this.#options;
    const revokedAt = mode === 'user' ? await storage.bans.lastUserRevocation(value) : await storage.bans.lastIpRevocation(value);
    const since = Math.max(now - find_time * 1000, revokedAt ?? -Infinity);
    // attempts refused during a ban do not count towards the next one
    const filter = { authTypes: FIRST_FACTOR, banned: false };
    const recent =
      mode === 'user'
        ? await storage.authenticationLogs.loadByUsername(value, since, max_retries, filter)
        : await storage.authenticationLogs.loadByIp(value, since, max_retries, filter);
    const success = recent.findIndex((attempt) => attempt.successful);
    return success === -1 ? recent.length : success;
  }

  /** Second-factor failures in a row (back to the last second-factor success) within find_time, and when the oldest leaves it. */
  async #secondFactorStreak(username: string, now: number, storage: ReservationTx): Promise<{ failures: number; until?: number }> {
    const { max_retries, find_time } = this.#options;
    // after `gatehouse regulation unban` the account starts afresh, as for passwords
    const revokedAt = await storage.bans.lastUserRevocation(username);
    const since = Math.max(now - find_time * 1000, revokedAt ?? -Infinity);
    const recent = await storage.authenticationLogs.loadByUsername(username, since, max_retries, { authTypes: SECOND_FACTOR, banned: false });
    const success = recent.findIndex((attempt) => attempt.successful);
    const failures = success === -1 ? recent : recent.slice(0, success);
    const oldest = failures.at(-1);
    return { failures: failures.length, ...(oldest ? { until: oldest.time + find_time * 1000 } : {}) };
  }

  async #activeBan(username: string, ip: string, now: number, storage: Pick<ReservationTx, 'bans'> = this.#storage): Promise<BanState> {
    // one after the other: inside a SQLite transaction the queries share one connection
    const userBan = username === '' ? undefined : await storage.bans.activeUserBan(username, now);
    const ipBan = ip === '' ? undefined : await storage.bans.activeIpBan(ip, now);
    const bans = [userBan, ipBan].filter((ban) => ban !== undefined);
    if (bans.length === 0) return { banned: false };
    if (bans.some((ban) => ban.expires === null)) return { banned: true };
    return { banned: true, until: Math.max(...bans.map((ban) => ban.expires ?? 0)) };
  }
}
