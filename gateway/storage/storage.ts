/**
 * Gatehouse's database (SQLite or PostgreSQL) as one repository per table family, composed. Times are
 * integer milliseconds since the epoch, passed in by the caller. Every failure is a StorageError whose
 * message names the operation, never the SQL. A consumer takes only the repositories it uses
 * (`Pick<Storage, 'bans'>`, or the repository's own interface).
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { attemptReservationRepository, type AttemptReservationRepository } from './attempt-reservations.ts';
import { authenticationLogRepository, type AuthenticationLogRepository } from './authentication-logs.ts';
import { banRepository, type BanRepository } from './bans.ts';
import type { StorageKeys } from './encryption.ts';
import { encryptionRepository, type EncryptionRepository } from './encryption-key.ts';
import { StorageError } from './errors.ts';
import { createDatabaseHandle, type DatabaseHandle } from './handle.ts';
import { housekeepingRepository, type HousekeepingRepository } from './housekeeping.ts';
import { identityVerificationRepository, type IdentityVerificationRepository } from './identity-verification.ts';
import { createSecretLookup, type SecretLookup } from './lookup-key.ts';
import { oidcRepository, type OidcRepository } from './oidc.ts';
import { oneTimeCodeRepository, type OneTimeCodeRepository } from './one-time-codes.ts';
import { recoveryCodeRepository, type RecoveryCodeRepository } from './recovery-codes.ts';
import { setupStateRepository, type SetupStateRepository } from './setup-state.ts';
import { totpRepository, type TotpRepository } from './totp.ts';
import { userPreferenceRepository, type UserPreferenceRepository } from './user-preferences.ts';
import { userRenameRepository, type UserRenameRepository } from './user-renames.ts';
import { userSessionRepository, type UserSessionRepository } from './user-sessions.ts';
import { webauthnRepository, type WebauthnRepository } from './webauthn.ts';
import type { OutageLog } from '../../lib/outage-log.ts';
import type { Database, StorageDialect } from './types.ts';

/** The repositories whose queries can run inside exclusively(), bound to its transaction. */
export interface StorageTransaction {
  readonly authenticationLogs: AuthenticationLogRepository;
  readonly bans: BanRepository;
  readonly attemptReservations: AttemptReservationRepository;
  readonly setupState: SetupStateRepository;
  readonly totp: TotpRepository;
  readonly webauthn: WebauthnRepository;
  readonly recoveryCodes: RecoveryCodeRepository;
  readonly identityVerification: IdentityVerificationRepository;
  readonly oneTimeCodes: OneTimeCodeRepository;
  readonly preferences: UserPreferenceRepository;
  readonly userSessions: UserSessionRepository;
  /** the OpenID Connect provider's payloads, subjects and consents */
  readonly oidc: OidcRepository;
  /** moving a user's rows to a new username (`gatehouse users rename`; inside exclusively()) */
  readonly userRenames: UserRenameRepository;
}

export interface Storage extends StorageTransaction {
  readonly dialect: StorageDialect;
  readonly encryption: EncryptionRepository;
  /** Deletes expired codes, reset links and dead session-index rows (gateway/app.ts runs it hourly). */
  readonly housekeeping: HousekeepingRepository;
  /** migrations this process applied when it opened the database (empty when up to date) */
  readonly appliedMigrations: readonly string[];
  /**
   * Runs `work` in one transaction, alone among everyone holding any of `keys`, across every instance
   * sharing this database. PostgreSQL: transaction-scoped advisory locks, taken in sorted order so two
   * callers never wait on each other. SQLite: writes are serialised; the transaction holds the
   * database's write lock from its first write on, so `work` should write before it reads.
   * Inside `work`, use only the repositories it is given (on SQLite the connection is this transaction's).
   */
  exclusively<T>(keys: readonly string[], work: (tx: StorageTransaction) => Promise<T>): Promise<T>;
  /** Resolves when the database answers a trivial query; rejects (StorageError) when it does not within its timeout. */
  ping(): Promise<void>;
  /** Connects, checks that no migration is pending and that encryption_key is the database's; rejects with a message naming what is wrong. */
  startupCheck(): Promise<void>;
  close(): Promise<void>;
}

function repositories(handle: DatabaseHandle, keys: StorageKeys, lookup: SecretLookup): StorageTransaction {
  return {
    authenticationLogs: authenticationLogRepository(handle),
    bans: banRepository(handle),
    attemptReservations: attemptReservationRepository(handle),
    setupState: setupStateRepository(handle),
    totp: totpRepository(handle, keys),
    webauthn: webauthnRepository(handle),
    recoveryCodes: recoveryCodeRepository(handle, lookup),
    identityVerification: identityVerificationRepository(handle),
    oneTimeCodes: oneTimeCodeRepository(handle, keys, lookup),
    preferences: userPreferenceRepository(handle),
    userSessions: userSessionRepository(handle, keys),
    oidc: oidcRepository(handle, keys),
    userRenames: userRenameRepository(handle, keys),
  };
}

export interface StorageInit {
  db: Kysely<Database>;
  dialect: StorageDialect;
  keys: StorageKeys;
  appliedMigrations: readonly string[];
  outage?: OutageLog;
  /** One round trip that rejects with a message naming the server and why it did not answer. */
  probe(): Promise<void>;
  /** Names of the migrations the database has not applied yet. */
  pendingMigrations(): Promise<string[]>;
}

/** Composes the repositories over one database; see openStorage() for connecting and migrating. */
export function createStorage(init: StorageInit): Storage {
  const { db, dialect } = init;
  let closed = false;
  const handle = createDatabaseHandle({ db, dialect, outage: init.outage, isClosed: () => closed });
  const encryption = encryptionRepository(handle, init.keys);
  const lookup = createSecretLookup(init.keys);
  return {
    ...repositories(handle, init.keys, lookup),
    dialect,
    encryption,
    housekeeping: housekeepingRepository(handle),
    appliedMigrations: init.appliedMigrations,
    exclusively(keys, work) {
      // what `work` threw (rolled back, then rethrown by Kysely): the caller's error, not the database's
      let thrownByWork: { error: unknown } | undefined;
      const transaction = (db: Kysely<Database>) =>
        db.transaction().execute(async (trx) => {
          if (dialect === 'postgres') {
            for (const key of [...new Set(keys)].sort()) {
              await sql`select pg_advisory_xact_lock(hashtextextended(${`gatehouse:${key}`}, 0))`.execute(trx);
            }
          }
          try {
            return await work(repositories(createDatabaseHandle({ db: trx, dialect }), init.keys, lookup));
          } catch (error) {
            thrownByWork = { error };
            throw error;
          }
        });
      return handle.run(
        'run a transaction',
        // MySQL's named locks belong to the connection, not the transaction: taken before it begins
        // and released after it ends, on the one connection both run on
        (pool) => (dialect === 'mysql' ? pool.connection().execute((connection) => withMysqlLocks(connection, keys, () => transaction(connection))) : transaction(pool)),
        { isCallersOwn: (error) => thrownByWork !== undefined && error === thrownByWork.error },
      );
    },
    async ping() {
      await handle.run('answer a ping', (pool) => sql`select 1`.execute(pool));
    },
    async startupCheck() {
      if (closed) throw new StorageError('closed', 'storage: the database is closed');
      await init.probe();
      const pending = await init.pendingMigrations();
      if (pending.length > 0) throw pendingError(pending);
      await encryption.recordKey();
    },
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}

/** How long a MySQL transaction waits for another's named lock (the server's statement timeout may end the wait first). */
const MYSQL_LOCK_WAIT_SECONDS = 10;

/** Runs `work` holding MySQL's named lock for each key, in a fixed order (no deadlock between two callers). */
async function withMysqlLocks<T>(connection: Kysely<Database>, keys: readonly string[], work: () => Promise<T>): Promise<T> {
  // a lock name is at most 64 characters: the key's hash stands for it
  const names = [...new Set(keys)].map((key) => `gatehouse:${createHash('sha256').update(key).digest('hex').slice(0, 40)}`).sort();
  try {
    for (const name of names) {
      const { rows } = await sql<{ got: number | null }>`select get_lock(${name}, ${MYSQL_LOCK_WAIT_SECONDS}) as got`.execute(connection);
      if (Number(rows[0]?.got) !== 1) throw new StorageError('unreachable', 'storage: could not run a transaction: another held its lock too long');
    }
    return await work();
  } finally {
    // a failure here is a lost connection, whose locks the server has released
    if (names.length > 0) await sql`select release_all_locks()`.execute(connection).catch(() => {});
  }
}

export function pendingError(pending: readonly string[]): StorageError {
  return new StorageError('migrations_pending', `storage: the database schema is out of date (pending: ${pending.join(', ')}); run 'gatehouse storage migrate'`);
}
