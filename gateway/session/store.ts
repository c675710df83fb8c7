/** The session store: in memory by default, Redis (standalone or Sentinel) when `session.redis` is set. */
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisConfig } from '../config/schema.ts';
import { createSessionCodec } from './codec.ts';

export interface SessionStore {
  store: session.Store;
  kind: 'memory' | 'redis';
  /** Read a session by id: the hot path's only store call. Rejects when the store is unreachable. */
  get(sid: string): Promise<session.SessionData | null>;
  set(sid: string, data: session.SessionData): Promise<void>;
  destroy(sid: string): Promise<void>;
  /** True when the store answers now (used by /api/health). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export const SESSION_KEY_PREFIX = 'gatehouse-session:';

export function redisOptions(cfg: RedisConfig): RedisOptions {
  const common: RedisOptions = {
    username: cfg.username,
    password: cfg.password,
    db: cfg.database_index,
    connectTimeout: cfg.timeout * 1000,
    commandTimeout: cfg.timeout * 1000,
    maxRetriesPerRequest: 1,
    // many concurrent forward-auth reads share one round trip
    enableAutoPipelining: true,
    // fail fast instead of queueing while disconnected: the authz path turns the error into a deny
    enableOfflineQueue: false,
    lazyConnect: true,
    tls: cfg.tls
      ? {
          servername: cfg.tls.server_name ?? cfg.host,
          rejectUnauthorized: !cfg.tls.skip_verify,
          minVersion: cfg.tls.minimum_version === 'TLS1.3' ? 'TLSv1.3' : 'TLSv1.2',
        }
      : undefined,
  };
  const ha = cfg.high_availability;
  if (ha) {
    return {
      ...common,
      name: ha.sentinel_name,
      sentinels: [{ host: cfg.host, port: cfg.port || 26379 }, ...ha.nodes.map((n) => ({ host: n.host, port: n.port }))],
      sentinelUsername: ha.sentinel_username,
      sentinelPassword: ha.sentinel_password,
      preferredSlaves: undefined,
    };
  }
  return cfg.port === 0 ? { ...common, path: cfg.host } : { ...common, host: cfg.host, port: cfg.port };
}

function promisify<T>(fn: (cb: (err: unknown, value?: T) => void) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

function wrap(store: session.Store, kind: 'memory' | 'redis', ping: () => Promise<boolean>, close: () => Promise<void>): SessionStore {
  return {
    store,
    kind,
    get: async (sid) => (await promisify<session.SessionData | null>((cb) => store.get(sid, cb))) ?? null,
    set: async (sid, data) => {
      await promisify((cb) => store.set(sid, data, cb));
    },
    destroy: async (sid) => {
      await promisify((cb) => store.destroy(sid, cb));
    },
    ping,
    close,
  };
}

export async function openSessionStore(cfg: RedisConfig | undefined, secret: string, logger: Logger): Promise<SessionStore> {
  if (!cfg) {
    const store = new session.MemoryStore();
    return wrap(store, 'memory', async () => true, async () => {});
  }
  const client = new Redis(redisOptions(cfg));
  client.on('error', (error: Error) => logger.error({ err: error.message }, 'session store: redis error'));
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw new Error(`session.redis: cannot connect to Redis at ${cfg.host}:${cfg.port} (${(error as Error).message})`);
  }
  const store = new RedisStore({
    client,
    prefix: SESSION_KEY_PREFIX,
    serializer: createSessionCodec(secret),
    disableTouch: true,
  });
  return wrap(
    store,
    'redis',
    async () => {
      try {
        return (await client.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
    async () => {
      await client.quit().catch(() => client.disconnect());
    },
  );
}
