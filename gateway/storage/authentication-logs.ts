/** `authentication_logs`: every authentication attempt, as the regulator and an audit read them back. */
import type { Selectable } from 'kysely';
import { fromSqlBool, type DatabaseHandle } from './handle.ts';
import type { AuthenticationAttempt, AuthenticationLog, AuthenticationLogFilter, AuthenticationLogTable, AuthenticationType } from './types.ts';

export interface AuthenticationLogRepository {
  append(entry: AuthenticationAttempt): Promise<void>;
  /** Attempts for `username` at or after `sinceMs`, newest first. */
  loadByUsername(username: string, sinceMs: number, limit: number, filter?: AuthenticationLogFilter): Promise<AuthenticationLog[]>;
  /** Attempts from `ip` at or after `sinceMs`, newest first. */
  loadByIp(ip: string, sinceMs: number, limit: number, filter?: AuthenticationLogFilter): Promise<AuthenticationLog[]>;
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

/** The username column's length on MySQL (varchar there, for its index; text elsewhere): a longer name typed at the login form is kept cut. */
const MYSQL_USERNAME_CHARACTERS = 512;

function cutToCharacters(value: string, characters: number): string {
  return value.length <= characters ? value : Array.from(value).slice(0, characters).join('');
}

export function authenticationLogRepository(handle: DatabaseHandle): AuthenticationLogRepository {
  const load = (column: 'username' | 'remote_ip', value: string, sinceMs: number, limit: number, filter: AuthenticationLogFilter): Promise<AuthenticationLog[]> => {
    if (filter.authTypes?.length === 0) return Promise.resolve([]);
    return handle.run('load authentication attempts', async (db) => {
      let query = db.selectFrom('authentication_logs').selectAll().where(column, '=', value).where('time', '>=', sinceMs);
      if (filter.authTypes) query = query.where('auth_type', 'in', filter.authTypes);
      if (filter.banned !== undefined) query = query.where('banned', '=', handle.bool(filter.banned));
      const rows = await query.orderBy('time', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return rows.map(toAuthenticationLog);
    });
  };
  return {
    async append(entry) {
      await handle.run('record an authentication attempt', (db) =>
        db
          .insertInto('authentication_logs')
          .values({
            time: entry.time,
            successful: handle.bool(entry.successful),
            banned: handle.bool(entry.banned),
            username: handle.dialect === 'mysql' ? cutToCharacters(entry.username, MYSQL_USERNAME_CHARACTERS) : entry.username,
            auth_type: entry.authType,
            remote_ip: entry.remoteIp,
            request_uri: entry.requestUri,
            request_method: entry.requestMethod,
          })
          .execute(),
      );
    },
    loadByUsername: (username, sinceMs, limit, filter = {}) => load('username', username, sinceMs, limit, filter),
    loadByIp: (ip, sinceMs, limit, filter = {}) => load('remote_ip', ip, sinceMs, limit, filter),
  };
}
