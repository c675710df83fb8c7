import { sql } from 'kysely';
import type { Kysely, Selectable, SqlBool } from 'kysely';
import type { StorageKeys } from './encryption.ts';
import { StorageError } from './errors.ts';
import type { OutageLog } from '../../lib/outage-log.ts';
import type {
  AuthenticationAttempt,
  AuthenticationLog,
  AuthenticationLogFilter,
  AuthenticationLogTable,
  AuthenticationType,
  Ban,
  Database,
  IpBan,
  NewBan,
  StorageDialect,
  UserBan,
} from './types.ts';

type BanTarget = { table: 'banned_user'; subject: 'username' } | { table: 'banned_ip'; subject: 'ip' };
const USER_BANS: BanTarget = { table: 'banned_user', subject: 'username' };
const IP_BANS: BanTarget = { table: 'banned_ip', subject: 'ip' };

function fromSqlBool(value: SqlBool): boolean {
  return value === true || value === 1;
}

function toAuthenticationLog(row: Selectable<AuthenticationLogTable>): AuthenticationLog {
  return {
    id: row.id,
    time: row.time,
    successful: fromSqlBool(row.successful),
    banned: fromSqlBool(row.banned),
    username: row.username,
    authType: row.auth_type as AuthenticationType,
    remoteIp: row.remote_ip,
    requestUri: row.request_uri,
    requestMethod: row.request_method,
  };
}

function toBan(row: Record<string, unknown>): Ban {
  return {
    id: Number(row.id),
    time: Number(row.time),
    expires: row.expires === null ? null : Number(row.expires),
    expired: row.expired === null ? null : Number(row.expired),
    revoked: fromSqlBool(row.revoked as SqlBool),
    source: String(row.source),
    reason: row.reason === null ? null : String(row.reason),
  };
}

/** The ban that lasts longest: one until revoked, else the latest expiry. */
function longest<B extends Ban>(bans: B[]): B | undefined {
  return bans.reduce<B | undefined>((best, ban) => {
    if (!best) return ban;
    if (best.expires === null) return best;
    if (ban.expires === null || ban.expires > best.expires) return ban;
    return best;
  }, undefined);
}

/**
 * Whether a failed query says the database is unreachable or overloaded (try again later) rather than
 * that the query itself is wrong: no answer in time, a lost or refused connection, a server shutting
 * down or cancelling on statement_timeout, or SQLite's lock wait running out.
 */
function isUnreachable(error: unknown, dialect: StorageDialect): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (dialect === 'sqlite') return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
  // pg's own timeouts and lost connections carry no SQLSTATE
  if (typeof code !== 'string') return true;
  if (/^[0-9A-Z]{5}$/.test(code)) return code.startsWith('08') || ['57014', '57P01', '57P02', '57P03', '53300'].includes(code);
  return true; // ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE …
}

/**
 * Gatehouse's database: a typed repository over Kysely (SQLite or PostgreSQL). Times are integer
 * milliseconds since the epoch, passed in by the caller. Every failure is a StorageError whose
 * message names the operation, never the SQL (that stays in `cause`).
 */
export class Storage {
  /** for later repositories; prefer adding a method here over querying from elsewhere */
  readonly db: Kysely<Database>;
  readonly dialect: StorageDialect;
  /** AES-256-GCM and HMAC keys derived from storage.encryption_key */
  readonly encryption: StorageKeys;
  /** migrations this process applied when it opened the database (empty when up to date) */
  readonly appliedMigrations: readonly string[];
  #closed = false;
  readonly #outage: OutageLog | undefined;

  constructor(init: { db: Kysely<Database>; dialect: StorageDialect; encryption: StorageKeys; appliedMigrations: readonly string[]; outage?: OutageLog }) {
    this.#outage = init.outage;
    this.db = init.db;
    this.dialect = init.dialect;
    this.encryption = init.encryption;
    this.appliedMigrations = init.appliedMigrations;
  }

  async appendAuthenticationLog(entry: AuthenticationAttempt): Promise<void> {
    await this.#run('record an authentication attempt', () =>
      this.db
        .insertInto('authentication_logs')
        .values({
          time: entry.time,
          successful: this.#bool(entry.successful),
          banned: this.#bool(entry.banned),
          username: entry.username,
          auth_type: entry.authType,
          remote_ip: entry.remoteIp,
          request_uri: entry.requestUri,
          request_method: entry.requestMethod,
        })
        .execute(),
    );
  }

  /** Attempts for `username` at or after `sinceMs`, newest first. */
  loadAuthenticationLogs(username: string, sinceMs: number, limit: number, filter: AuthenticationLogFilter = {}): Promise<AuthenticationLog[]> {
    return this.#loadAuthenticationLogs('username', username, sinceMs, limit, filter);
  }

  /** Attempts from `ip` at or after `sinceMs`, newest first. */
  loadAuthenticationLogsByIp(ip: string, sinceMs: number, limit: number, filter: AuthenticationLogFilter = {}): Promise<AuthenticationLog[]> {
    return this.#loadAuthenticationLogs('remote_ip', ip, sinceMs, limit, filter);
  }

  banUser(ban: NewBan & { username: string }): Promise<UserBan> {
    return this.#insertBan(USER_BANS, ban.username, ban).then((row) => ({ ...toBan(row), username: String(row.username) }));
  }

  /** The ban in force for `username` at `nowMs` (the longest if several), or undefined. */
  activeUserBan(username: string, nowMs: number): Promise<UserBan | undefined> {
    return this.#activeBans(USER_BANS, nowMs, username).then((rows) => longest(rows.map((row) => ({ ...toBan(row), username: String(row.username) }))));
  }

  /** Revokes every ban in force for `username`; returns how many. */
  revokeUserBan(username: string, nowMs: number): Promise<number> {
    return this.#revokeBans(USER_BANS, username, nowMs);
  }

  /** Every ban in force at `nowMs`, newest first. */
  listUserBans(nowMs: number): Promise<UserBan[]> {
    return this.#activeBans(USER_BANS, nowMs).then((rows) => rows.map((row) => ({ ...toBan(row), username: String(row.username) })));
  }

  banIp(ban: NewBan & { ip: string }): Promise<IpBan> {
    return this.#insertBan(IP_BANS, ban.ip, ban).then((row) => ({ ...toBan(row), ip: String(row.ip) }));
  }

  activeIpBan(ip: string, nowMs: number): Promise<IpBan | undefined> {
    return this.#activeBans(IP_BANS, nowMs, ip).then((rows) => longest(rows.map((row) => ({ ...toBan(row), ip: String(row.ip) }))));
  }

  revokeIpBan(ip: string, nowMs: number): Promise<number> {
    return this.#revokeBans(IP_BANS, ip, nowMs);
  }

  listIpBans(nowMs: number): Promise<IpBan[]> {
    return this.#activeBans(IP_BANS, nowMs).then((rows) => rows.map((row) => ({ ...toBan(row), ip: String(row.ip) })));
  }

  /**
   * Runs `work` in one transaction, alone among everyone holding any of `keys`, across every instance
   * sharing this database. PostgreSQL: transaction-scoped advisory locks, taken in sorted order so two
   * callers never wait on each other. SQLite: writes are serialised; the transaction holds the
   * database's write lock from its first write on, so `work` should write before it reads.
   * Inside `work`, use only the Storage it is given (on SQLite the connection is this transaction's).
   */
  exclusively<T>(keys: readonly string[], work: (tx: Storage) => Promise<T>): Promise<T> {
    return this.#run('run a transaction', () =>
      this.db.transaction().execute(async (trx) => {
        if (this.dialect === 'postgres') {
          for (const key of [...new Set(keys)].sort()) {
            await sql`select pg_advisory_xact_lock(hashtextextended(${`gatehouse:${key}`}, 0))`.execute(trx);
          }
        }
        return work(new Storage({ db: trx, dialect: this.dialect, encryption: this.encryption, appliedMigrations: [] }));
      }),
    );
  }

  /** Records a first-factor attempt whose password is about to be checked; returns its id. */
  insertAttemptReservation(entry: { time: number; expires: number; username: string; remoteIp: string }): Promise<number> {
    return this.#run('reserve an authentication attempt', async () => {
      const row = await this.db
        .insertInto('attempt_reservations')
        .values({ time: entry.time, expires: entry.expires, username: entry.username, remote_ip: entry.remoteIp })
        .returning('id')
        .executeTakeFirstOrThrow();
      return Number(row.id);
    });
  }

  /** Reservations of `username` or from `ip` still in force at `nowMs`, but `exceptId`. */
  countAttemptReservations(column: 'username' | 'remote_ip', value: string, nowMs: number, exceptId: number): Promise<number> {
    return this.#run('count reserved authentication attempts', async () => {
      const row = await this.db
        .selectFrom('attempt_reservations')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where(column, '=', value)
        .where('expires', '>', nowMs)
        .where('id', '!=', exceptId)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    });
  }

  async deleteAttemptReservation(id: number): Promise<void> {
    await this.#run('settle a reserved authentication attempt', () => this.db.deleteFrom('attempt_reservations').where('id', '=', id).execute());
  }

  /** Forgets reservations an instance never settled (it crashed or hung); a write, so it also takes SQLite's lock. */
  async deleteExpiredAttemptReservations(nowMs: number): Promise<void> {
    await this.#run('forget expired authentication reservations', () => this.db.deleteFrom('attempt_reservations').where('expires', '<=', nowMs).execute());
  }

  /** When the one-time step `name` was completed (ms), or null if it never was. */
  async setupCompletedAt(name: string): Promise<number | null> {
    const row = await this.#run('read the setup state', () =>
      this.db.selectFrom('setup_state').select('completed_at').where('name', '=', name).executeTakeFirst(),
    );
    return row ? Number(row.completed_at) : null;
  }

  /**
   * Records that the one-time step `name` is done; the first record stands (several instances may race).
   * True when this call made the record, false when it was there already: one insert-if-absent, so of
   * instances sharing the storage exactly one wins.
   */
  async markSetupComplete(name: string, time: number): Promise<boolean> {
    const result = await this.#run('record the setup state', () =>
      this.db
        .insertInto('setup_state')
        .values({ name, completed_at: time })
        .onConflict((conflict) => conflict.column('name').doNothing())
        .executeTakeFirst(),
    );
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  /** Takes back this instance's record of `name` (made at `time`) when the step it claimed failed. */
  async unmarkSetupComplete(name: string, time: number): Promise<void> {
    await this.#run('take back the setup state', () =>
      this.db.deleteFrom('setup_state').where('name', '=', name).where('completed_at', '=', time).execute(),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.db.destroy();
  }

  // better-sqlite3 cannot bind JS booleans; PostgreSQL's boolean columns want them
  #bool(value: boolean): SqlBool {
    return this.dialect === 'sqlite' ? (value ? 1 : 0) : value;
  }

  async #run<T>(action: string, work: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StorageError('closed', `storage: could not ${action}: the database is closed`);
    try {
      const result = await work();
      this.#outage?.success();
      return result;
    } catch (error) {
      if (isUnreachable(error, this.dialect)) {
        // one line per outage (the outage log), and a 503 for the request
        this.#outage?.failure(error);
        throw new StorageError('unreachable', `storage: could not ${action}: the database did not answer`, { cause: error });
      }
      throw new StorageError('query_failed', `storage: could not ${action}`, { cause: error });
    }
  }

  #loadAuthenticationLogs(
    column: 'username' | 'remote_ip',
    value: string,
    sinceMs: number,
    limit: number,
    filter: AuthenticationLogFilter,
  ): Promise<AuthenticationLog[]> {
    if (filter.authTypes?.length === 0) return Promise.resolve([]);
    return this.#run('load authentication attempts', async () => {
      let query = this.db
        .selectFrom('authentication_logs')
        .selectAll()
        .where(column, '=', value)
        .where('time', '>=', sinceMs);
      if (filter.authTypes) query = query.where('auth_type', 'in', filter.authTypes);
      if (filter.banned !== undefined) query = query.where('banned', '=', this.#bool(filter.banned));
      const rows = await query.orderBy('time', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return rows.map(toAuthenticationLog);
    });
  }

  // Both ban tables share every column but the subject (`username` or `ip`); one untyped query
  // serves both, and toBan() gives the rows their types back.
  get #bans(): Kysely<any> {
    return this.db;
  }

  #insertBan(target: BanTarget, subject: string, ban: NewBan): Promise<Record<string, unknown>> {
    return this.#run(`ban ${target.subject === 'ip' ? 'an IP address' : 'a user'}`, () =>
      this.#bans
        .insertInto(target.table)
        .values({
          time: ban.time,
          expires: ban.expires,
          expired: null,
          revoked: this.#bool(false),
          [target.subject]: subject,
          source: ban.source,
          reason: ban.reason ?? null,
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
  }

  #activeBans(target: BanTarget, nowMs: number, subject?: string): Promise<Record<string, unknown>[]> {
    return this.#run('load bans', () => {
      let query = this.#bans
        .selectFrom(target.table)
        .selectAll()
        .where('revoked', '=', this.#bool(false))
        .where((eb) => eb.or([eb('expires', 'is', null), eb('expires', '>', nowMs)]));
      if (subject !== undefined) query = query.where(target.subject, '=', subject);
      return query.orderBy('time', 'desc').orderBy('id', 'desc').execute();
    });
  }

  #revokeBans(target: BanTarget, subject: string, nowMs: number): Promise<number> {
    return this.#run('revoke a ban', async () => {
      const result = await this.#bans
        .updateTable(target.table)
        .set({ revoked: this.#bool(true), expired: nowMs })
        .where(target.subject, '=', subject)
        .where('revoked', '=', this.#bool(false))
        .where((eb) => eb.or([eb('expires', 'is', null), eb('expires', '>', nowMs)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    });
  }
}
