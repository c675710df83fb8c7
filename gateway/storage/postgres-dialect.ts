/**
 * The PostgreSQL dialect, in a module of its own so that a gateway on SQLite never loads the pg driver
 * (storage/open.ts imports this file only when storage.postgres is set).
 */
import pg from 'pg';
import { CompiledQuery, PostgresDialect } from 'kysely';
import type { Logger } from 'pino';
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_STATEMENT_TIMEOUT_MS, parsePostgresAddress, QUERY_READ_TIMEOUT } from './options.ts';
import type { PostgresStorageOptions } from './options.ts';

const PG_INT8_OID = 20;

// int8 (bigint columns, count(*)) as a JS number instead of pg's default string: our values are
// millisecond times and row ids, far below 2^53. Per pool, not pg.types.setTypeParser (global).
const pgTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === PG_INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}


/**
 * A client whose timed-out query also ends its connection: pg leaves the hung query active on the
 * socket (and a transaction possibly open), so the pool must not hand that connection out again.
 */
class TimeoutClient extends pg.Client {
  // @ts-expect-error pg's overloads; Kysely calls query(text, values) and awaits the promise
  override query(...args: unknown[]): unknown {
    const result = (super.query as (...a: unknown[]) => unknown)(...args);
    if (result instanceof Promise) {
      return result.catch((error: unknown) => {
        if ((error as Error)?.message === QUERY_READ_TIMEOUT) {
          const client = this as unknown as { _ending: boolean; connection: { stream: { destroy(): void } } };
          // marked as ending before the release that follows: the pool drops the client instead of
          // handing it out again, and pg takes the close for ours (an 'error' event on a checked-out
          // client has no listener and would end the process)
          client._ending = true;
          client.connection.stream.destroy();
        }
        throw error;
      });
    }
    return result;
  }
}

/**
 * Server errors that say the server answered and refused us (credentials, database, schema): the next
 * server would refuse the same way, so they are not a reason to fall back. Anything else (refused,
 * unreachable, a TLS failure, a server starting up) is.
 */
const ANSWERED_AND_REFUSED = /^(28|3D|3F|42)/;

/**
 * Authelia's `servers`: pools in order (the address first, then each fallback); a new connection comes
 * from the first that can make one. Kysely takes any object with `connect` and `end`.
 */
function failoverPool(pools: pg.Pool[]): pg.Pool {
  const [first] = pools;
  if (pools.length === 1) return first!;
  return {
    Client: TimeoutClient,
    options: first!.options,
    async connect() {
      let firstError: unknown;
      for (const pool of pools) {
        try {
          return await pool.connect();
        } catch (error) {
          firstError ??= error;
          const code = (error as { code?: unknown }).code;
          if (typeof code === 'string' && ANSWERED_AND_REFUSED.test(code)) throw error;
        }
      }
      // the address's own failure: the one the startup message names
      throw firstError;
    },
    async end() {
      await Promise.all(pools.map((pool) => pool.end()));
    },
  } as unknown as pg.Pool;
}

/** One server's pool: `address` with its own TLS, the rest of `options` shared. */
function serverPool(address: string, tls: PostgresStorageOptions['tls'], options: PostgresStorageOptions, logger: Logger, mode: { readOnly?: boolean }): pg.Pool {
  const { host, port } = parsePostgresAddress(address);
  const statementTimeout = options.statement_timeout ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const pool = new pg.Pool({
    Client: TimeoutClient as unknown as typeof pg.Client,
    host,
    port,
    // no tls: clear text, no SSLRequest (a socket never has one: storageOptionsFromConfig)
    ssl: tls ?? false,
    database: options.database,
    user: options.username,
    password: options.password,
    // connecting, and waiting for a free pooled connection
    connectionTimeoutMillis: options.timeout,
    // a hung server or network: the client gives up; a slow query: the server cancels it
    query_timeout: statementTimeout,
    statement_timeout: statementTimeout,
    idle_in_transaction_session_timeout: statementTimeout,
    idleTimeoutMillis: options.idle_timeout ?? DEFAULT_IDLE_TIMEOUT_MS,
    keepAlive: true,
    application_name: 'gatehouse',
    types: pgTypes,
    ...(mode.readOnly ? { options: '-c default_transaction_read_only=on' } : {}),
  });
  // without a listener, an idle connection dropped by the server would crash the process; the
  // storage's outage log reports the failures requests see
  pool.on('error', (error) => logger.debug({ err: error.message }, 'storage: an idle PostgreSQL connection failed'));
  // nor for one checked out between two queries (a transaction waiting on its work): pg-pool listens
  // only while a connection is idle. Its next query fails (`unreachable`) and the pool drops it on release.
  pool.on('connect', (client) => client.on('error', (error) => logger.debug({ err: error.message }, 'storage: a PostgreSQL connection in use failed')));
  return pool;
}

/** `readOnly`: every transaction of the pool is read-only, so a check that must not write cannot (`config validate --check`). */
export function createPostgresDialect(options: PostgresStorageOptions, logger: Logger, mode: { readOnly?: boolean } = {}): { dialect: PostgresDialect; pool: pg.Pool } {
  const servers = [{ address: options.address, tls: options.tls }, ...(options.servers ?? [])];
  const pool = failoverPool(servers.map((server) => serverPool(server.address, server.tls, options, logger, mode)));
  const searchPath = CompiledQuery.raw(`set search_path to ${quoteIdentifier(options.schema || 'public')}`);
  const dialect = new PostgresDialect({
    pool,
    onCreateConnection: async (connection) => {
      await connection.executeQuery(searchPath);
    },
  });
  return { dialect, pool };
}
