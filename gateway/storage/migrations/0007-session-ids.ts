import type { Kysely } from 'kysely';
import type { StorageDialect } from '../types.ts';
import { bytesType } from './columns.ts';

// The session index keeps each session's id too, AES-256-GCM under storage.encryption_key and bound to
// the row's hash, so "sign out" on another device can destroy that session in the store. A row indexed
// before this migration has none: it can be dropped from the list, not ended (it expires on its own).
export async function up(db: Kysely<any>, dialect: StorageDialect): Promise<void> {
  await db.schema.alterTable('user_sessions').addColumn('session_id', bytesType(dialect)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('user_sessions').dropColumn('session_id').execute();
}
