import type { Kysely } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';
import type { StorageDialect } from '../types.ts';
import * as authenticationLogs from './0001-authentication-logs.ts';
import * as bans from './0002-bans.ts';
import * as encryption from './0003-encryption.ts';
import * as attemptReservations from './0004-attempt-reservations.ts';
import * as setupState from './0005-setup-state.ts';
import * as secondFactors from './0006-second-factors.ts';
import * as sessionIds from './0007-session-ids.ts';
import * as oidc from './0008-oidc.ts';
import * as oidcSessionLinks from './0009-oidc-session-links.ts';

interface StorageMigration {
  up(db: Kysely<any>, dialect: StorageDialect): Promise<void>;
  down(db: Kysely<any>, dialect: StorageDialect): Promise<void>;
}

/** Every migration, in order. Append only: an applied migration is never edited. */
const MIGRATIONS: Readonly<Record<string, StorageMigration>> = {
  '0001-authentication-logs': authenticationLogs,
  '0002-bans': bans,
  '0003-encryption': encryption,
  '0004-attempt-reservations': attemptReservations,
  '0005-setup-state': setupState,
  '0006-second-factors': secondFactors,
  '0007-session-ids': sessionIds,
  '0008-oidc': oidc,
  '0009-oidc-session-links': oidcSessionLinks,
};

export const MIGRATION_NAMES: readonly string[] = Object.keys(MIGRATIONS);

/** In-code provider (no directory scan): the migration set is fixed by the code that runs. */
export function migrationProvider(dialect: StorageDialect): MigrationProvider {
  const migrations: Record<string, Migration> = {};
  for (const [name, migration] of Object.entries(MIGRATIONS)) {
    migrations[name] = {
      up: (db) => migration.up(db, dialect),
      down: (db) => migration.down(db, dialect),
    };
  }
  return { getMigrations: async () => migrations };
}
