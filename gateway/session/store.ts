/**
 * The session store: in memory by default, Redis (standalone or Sentinel) when `session.redis` is set.
 *
 * Reads for forward auth go through a short-lived in-process cache. Every write or destroy, from this
 * process or express-session, evicts the entry here and, with Redis, is announced on a pub/sub channel
 * so every other instance evicts it too; the cache's TTL bounds staleness if a message is ever lost.
 *
 * Redis failing: every command has a short timeout (`command_timeout`), nothing queues while
 * disconnected, and once a command failed only one at a time is sent until one succeeds (the others
 * fail at once), so a hung Redis costs a request one timeout at most and never builds a pile-up. Every
 * failure is a SessionStoreUnavailable; forward auth treats it as no session, the portal as 503. The
 * in-process cache is not stretched during an outage: its 2 s TTL stands, since the evictions that
 * keep it honest (logouts elsewhere) cannot reach us while Redis is away.
 */
import { rejectAfter } from '../../lib/deadline.ts';
import session from 'express-session';
import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { GatehouseError } from '../../lib/errors.ts';
import { tlsClientOptions, tlsFailureReason } from '../../lib/net/tls-client.ts';
import { DEFAULT_TRUST, type TrustedCertificates } from '../../lib/net/trusted-cas.ts';
import { withoutUserInfo } from '../../lib/net/user-info.ts';
import { createOutageLog, type OutageLog } from '../../lib/outage-log.ts';
import type { RedisConfig } from '../config/schema.ts';
import { createSessionCodec } from './codec.ts';

export interface SessionStore {
  store: session.Store;
  kind: 'memory' | 'redis';
  /** Read a session by id: the hot path's only store call. Rejects when the store is unreachable. */
  get(sid: string): Promise<session.SessionData | null>;
  /** The session if it is in the in-memory cache (null: known not to exist), else undefined. */
  peek(sid: string): session.SessionData | null | undefined;
  set(sid: string, data: session.SessionData): Promise<void>;
  /**
   * Write back a session only if it still exists: an activity refresh racing a logout (here or on
   * another instance) must never bring the session back.
   */
  refresh(sid: string, data: session.SessionData): Promise<void>;
  destroy(sid: string): Promise<void>;
  /** True when the store answers now (used by /api/health). */
  ping(): Promise<boolean>;
  /** Redis: answers PING within command_timeout, else rejects naming the server and why; memory: nothing to check. */
  startupCheck(): Promise<void>;
  close(): Promise<void>;
}

/** The session store did not answer (timeout, connection lost, or failing fast while it is known down). */
export class SessionStoreUnavailable extends GatehouseError {
  declare readonly code: 'session_store_unavailable';
  constructor(cause: unknown) {
    super('session_store_unavailable', 'Sessions are unavailable, try again shortly.', { cause });
  }
}

export const SESSION_KEY_PREFIX = 'gatehouse-session:';
export const INVALIDATION_CHANNEL = 'gatehouse-session-invalidate';
/** How long a read may be served from memory. Writes anywhere evict at once; this bounds a lost message. */
export const CACHE_TTL_MS = 2_000;
/** Seconds a stored session without an expiry (not made by a login) is kept in Redis. */
const DEFAULT_TTL_S = 86_400;
const CACHE_MAX_ENTRIES = 50_000;

function redisOptions(cfg: RedisConfig, trusted: TrustedCertificates): RedisOptions {
  // a Sentinel's master is checked against the configured host too (Authelia's default server_name)
  const tls = cfg.tls ? tlsClientOptions(cfg.tls, trusted, cfg.host) : undefined;
  const common: RedisOptions = {
    username: cfg.username,
    password: cfg.password,
    db: cfg.database_index,
    connectTimeout: cfg.timeout * 1000,
    // short: a hung Redis costs forward auth this much at most before it denies
    commandTimeout: cfg.command_timeout,
    maxRetriesPerRequest: 0,
    // no batching behind a stalled round trip: each command stands alone with its own timeout
    enableAutoPipelining: false,
    // fail fast instead of queueing while disconnected: the authz path turns the error into a deny
    enableOfflineQueue: false,
    lazyConnect: true,
    tls,
  };
  const ha = cfg.high_availability;
  if (ha) {
    // ioredis speaks TLS to the master only with enableTLSForSentinelMode (else in clear text, whatever
    // `tls` says) and to the Sentinels only with sentinelTLS; Authelia's one tls block covers both, each
    // checked against server_name, else the configured host, else the address dialled
    return {
      ...common,
      name: ha.sentinel_name,
      sentinels: sentinelsOf(cfg),
      sentinelUsername: ha.sentinel_username,
      sentinelPassword: ha.sentinel_password,
      ...(tls ? { enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
    };
  }
  return cfg.port === 0 ? { ...common, path: cfg.host } : { ...common, host: cfg.host, port: cfg.port };
}

/** The Sentinels asked for the master: `host` first when set, then `nodes`, each once (as Authelia lists them). */
export function sentinelsOf(cfg: RedisConfig): { host: string; port: number }[] {
  const all = [...(cfg.host === undefined ? [] : [{ host: cfg.host, port: cfg.port }]), ...(cfg.high_availability?.nodes ?? [])];
  const seen = new Set<string>();
  return all.flatMap(({ host, port }) => {
    const key = `${host.toLowerCase()}:${port}`;
    if (seen.has(key)) return [];
    seen.add(key);
    return [{ host, port }];
  });
}

/** Where the configured Redis is, for messages: `Redis at host:port`, a socket, or a Sentinel master (user info blanked). */
export function redisEndpoint(cfg: RedisConfig): string {
  if (cfg.high_availability) {
    const via = sentinelsOf(cfg).map(({ host, port }) => `${withoutUserInfo(host)}:${port}`).join(', ');
    return `Redis Sentinel master '${cfg.high_availability.sentinel_name}' via ${via}`;
  }
  const host = withoutUserInfo(cfg.host ?? '');
  return cfg.port === 0 ? `Redis at socket ${host}` : `Redis at ${host}:${cfg.port}`;
}

/**
 * Why a connection or command failed, in words (ioredis reports a refused connection only on its 'error'
 * event). A driver's own text may repeat a configured host: its user info is blanked there too.
 */
export function redisReason(error: unknown, cfg: RedisConfig): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  if (code === 'ENOENT') return 'no socket at that path';
  if (code === 'ETIMEDOUT' || message === 'connect ETIMEDOUT') return `timed out after ${cfg.timeout} s`;
  if (message === 'Command timed out') return `no answer within ${cfg.command_timeout} ms`;
  if (/^(WRONGPASS|NOAUTH|ERR AUTH)/.test(message)) return 'authentication failed';
  if (/Stream isn't writeable|Connection is closed/.test(message)) return 'not connected';
  const tls = tlsFailureReason(error);
  if (tls !== undefined) return tls;
  const hosts = [cfg.host ?? '', ...(cfg.high_availability?.nodes.map((node) => node.host) ?? [])].filter((host) => withoutUserInfo(host) !== host);
  return hosts.reduce((text, host) => text.replaceAll(host, withoutUserInfo(host)), message);
}

/** Rejects with `error()` if `work` has not settled after `ms`. */
function promisify<T>(fn: (cb: (err: unknown, value?: T) => void) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

/**
 * Recently read sessions, evicted by writes and by age. A read that was already on its way to the store
 * when an eviction arrived may carry the old value: `mayCache` keeps such a read out of the cache.
 */
class SessionCache {
  readonly #entries = new Map<string, { data: session.SessionData | null; until: number }>();
  readonly #now: () => number;
  /** Counts evictions; a read remembers the count it started at. */
  #generation = 0;
  readonly #evictedAt = new Map<string, number>();
  /** Reads that started before this generation may not be cached (the eviction record was trimmed). */
  #floor = 0;
  constructor(now: () => number) {
    this.#now = now;
  }
  get generation(): number {
    return this.#generation;
  }
  get(sid: string): session.SessionData | null | undefined {
    const hit = this.#entries.get(sid);
    if (!hit) return undefined;
    if (hit.until <= this.#now()) {
      this.#entries.delete(sid);
      return undefined;
    }
    return hit.data;
  }
  /** Cache a value read since `startedAt` (a generation), unless an eviction overtook the read. */
  put(sid: string, data: session.SessionData | null, startedAt: number): void {
    if (startedAt < this.#floor || (this.#evictedAt.get(sid) ?? -1) >= startedAt) return;
    if (this.#entries.size >= CACHE_MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(sid, { data, until: this.#now() + CACHE_TTL_MS });
  }
  evict(sid: string): void {
    this.#entries.delete(sid);
    this.#evictedAt.set(sid, this.#generation++);
    if (this.#evictedAt.size > CACHE_MAX_ENTRIES) {
      this.#evictedAt.clear();
      this.#floor = this.#generation;
    }
  }
  clear(): void {
    this.#entries.clear();
    this.#floor = ++this.#generation;
  }
}

/**
 * Route every write of `store` (ours and express-session's) through `onWrite` first, so no reader
 * anywhere keeps serving the old value.
 */
function announceWrites(store: session.Store, onWrite: (sid: string) => void): void {
  const set = store.set.bind(store);
  const destroy = store.destroy.bind(store);
  store.set = (sid, data, cb) => {
    onWrite(sid);
    set(sid, data, (err?: unknown) => {
      onWrite(sid); // a read that raced the write may have cached the old value
      cb?.(err);
    });
  };
  store.destroy = (sid, cb) => {
    onWrite(sid);
    destroy(sid, (err?: unknown) => {
      onWrite(sid);
      cb?.(err);
    });
  };
}

/**
 * Every call of `store` goes through here: a failure becomes SessionStoreUnavailable and is counted
 * in the outage log; after a failure one call at a time probes the store while the rest fail at once.
 */
export class StoreGuard {
  readonly #outage: OutageLog;
  #failing = false;
  #probing = false;
  constructor(outage: OutageLog) {
    this.#outage = outage;
  }
  /**
   * Run `op` unless a probe is already out while the store is failing. `cb` is called once, whatever
   * `op` does: an `op` that throws is a failure like any other (the probe ends with it, so the guard
   * can never stay "probing" and refuse every later call).
   */
  run<T>(op: (cb: (err: unknown, value?: T) => void) => void, cb: (err: unknown, value?: T) => void): void {
    if (this.#failing && this.#probing) {
      const error = new SessionStoreUnavailable(new GatehouseError('session_store_unavailable', 'the session store is failing; a probe is in flight'));
      this.#outage.failure(error.cause);
      return cb(error);
    }
    const probe = this.#failing;
    if (probe) this.#probing = true;
    let settled = false;
    const done = (err: unknown, value?: T) => {
      if (settled) return;
      settled = true;
      if (probe) this.#probing = false;
      if (err) {
        this.#failing = true;
        this.#outage.failure(err);
        return cb(err instanceof SessionStoreUnavailable ? err : new SessionStoreUnavailable(err));
      }
      this.#failing = false;
      this.#outage.success();
      cb(null, value);
    };
    try {
      op(done);
    } catch (error) {
      // a throw after `done` was called belongs to the caller's callback, not to the store
      if (settled) throw error;
      done(error ?? new GatehouseError('session_store_unavailable', 'the session store threw'));
    }
  }
  async call<T>(op: () => Promise<T>): Promise<T> {
    return (await promisify<T>((cb) => this.run<T>((done) => op().then((v) => done(null, v), done), cb))) as T;
  }
}

/** Route `store`'s reads and writes (express-session's too) through `guard`. */
function guardStore(store: session.Store, guard: StoreGuard): void {
  const get = store.get.bind(store);
  const set = store.set.bind(store);
  const destroy = store.destroy.bind(store);
  store.get = (sid, cb) => guard.run((done) => get(sid, done), cb);
  store.set = (sid, data, cb) => guard.run((done) => set(sid, data, (err?: unknown) => done(err)), (err) => cb?.(err));
  store.destroy = (sid, cb) => guard.run((done) => destroy(sid, (err?: unknown) => done(err)), (err) => cb?.(err));
}

/** Resolves when `work` settles or after `ms`, whichever is first. */
function settleWithin(work: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    work.then(
      () => (clearTimeout(timer), resolve()),
      () => (clearTimeout(timer), resolve()),
    );
  });
}

function wrap(
  store: session.Store,
  kind: 'memory' | 'redis',
  cache: SessionCache,
  refresh: (sid: string, data: session.SessionData) => Promise<void>,
  ping: () => Promise<boolean>,
  startupCheck: () => Promise<void>,
  close: () => Promise<void>,
): SessionStore {
  return {
    store,
    kind,
    refresh,
    peek: (sid) => cache.get(sid),
    async get(sid) {
      const cached = cache.get(sid);
      if (cached !== undefined) return cached;
      const startedAt = cache.generation;
      const data = (await promisify<session.SessionData | null>((cb) => store.get(sid, cb))) ?? null;
      cache.put(sid, data, startedAt);
      return data;
    },
    set: async (sid, data) => {
      await promisify((cb) => store.set(sid, data, cb));
    },
    destroy: async (sid) => {
      await promisify((cb) => store.destroy(sid, cb));
    },
    ping,
    startupCheck,
    close,
  };
}

/**
 * ioredis listens for its socket's first 'error' only (`once`). A refused TLS handshake can raise two (the
 * certificate check, then the server's alert), and the second, with no listener, would end the process:
 * every socket the client opens gets a listener that keeps the later ones handled (the first still
 * reaches ioredis, which reports it and reconnects).
 */
function keepSocketErrorsHandled(client: Redis): void {
  let current = client.stream;
  Object.defineProperty(client, 'stream', {
    configurable: true,
    enumerable: true,
    get: () => current,
    set(stream: Redis['stream']) {
      current = stream;
      stream?.on('error', () => {});
    },
  });
}

/** `trusted`: the CAs of certificates_directory, for `session.redis.tls`. */
export async function openSessionStore(
  cfg: RedisConfig | undefined,
  secret: string,
  logger: Logger,
  now: () => number = Date.now,
  trusted: TrustedCertificates = DEFAULT_TRUST,
): Promise<SessionStore> {
  const cache = new SessionCache(now);
  if (!cfg) {
    const store = new session.MemoryStore();
    announceWrites(store, (sid) => cache.evict(sid));
    // MemoryStore keeps its sessions in a plain object; checking it and setting happen in one turn
    const held = (store as unknown as { sessions: Record<string, string> }).sessions;
    const refresh = (sid: string, data: session.SessionData) =>
      new Promise<void>((resolve, reject) => {
        if (!(sid in held)) return resolve();
        store.set(sid, data, (err?: unknown) => (err ? reject(err) : resolve()));
      });
    return wrap(store, 'memory', cache, refresh, async () => true, async () => {}, async () => {});
  }
  // the Redis client is loaded only when sessions are in Redis
  const [{ Redis }, { RedisStore }] = await Promise.all([import('ioredis'), import('connect-redis')]);
  const options = redisOptions(cfg, trusted);
  const client = new Redis(options);
  // a connection in subscriber mode can do nothing else, hence a second one
  // autoResubscribe off: ioredis would re-subscribe on every reconnect with a promise nobody handles, and a
  // close during it becomes an unhandled rejection; the 'ready' handler below re-subscribes instead
  const subscriber = new Redis({ ...options, enableOfflineQueue: true, commandTimeout: undefined, autoResubscribe: false });
  for (const c of [client, subscriber]) keepSocketErrorsHandled(c);
  const outage = createOutageLog(logger, 'session store (redis)', { now });
  // ioredis reports every failed reconnect: one outage, one summary every few seconds
  let lastError: unknown;
  for (const c of [client, subscriber]) {
    c.on('error', (error: Error) => {
      lastError = error;
      outage.failure(error);
    });
  }
  const endpoint = redisEndpoint(cfg);
  const connectMs = cfg.timeout * 1000;
  try {
    // bounded: a server that accepts the connection and never answers would hold the start forever
    await rejectAfter(
      Promise.all([client.connect(), subscriber.connect()]).then(() => subscriber.subscribe(INVALIDATION_CHANNEL)),
      connectMs,
      () => new GatehouseError('session_store_unavailable', `no answer within ${cfg.timeout} s`),
    );
  } catch (error) {
    client.disconnect();
    subscriber.disconnect();
    // 'Connection is closed' says nothing: the error event before it says why
    const cause = (error as Error).message === 'Connection is closed.' && lastError ? lastError : error;
    throw new GatehouseError('session_store_unavailable', `session store: cannot connect to ${endpoint}: ${redisReason(cause, cfg)}`, { cause });
  }
  subscriber.on('message', (_channel: string, sid: string) => cache.evict(sid));
  // after a reconnect messages may have been missed: start from an empty cache, and listen again
  let closing = false;
  subscriber.on('ready', () => {
    cache.clear();
    subscriber.subscribe(INVALIDATION_CHANNEL).then(
      // what was read between the reconnect and the subscription may have missed an eviction
      () => cache.clear(),
      (error: Error) => {
        outage.failure(error);
        // a connection that cannot hear evictions is worse than none: reconnect and subscribe again
        if (!closing) subscriber.disconnect(true);
      },
    );
  });

  const guard = new StoreGuard(outage);
  const codec = createSessionCodec(secret, (reason) => logger.warn({ reason }, 'session store: a stored session was not written by Gatehouse with this session.secret; treated as no session'));
  // the key lives as long as the session (expiresAt), not the cookie: most cookies are browser-session ones
  const ttl = (data: session.SessionData) => (typeof data.expiresAt === 'number' ? Math.ceil((data.expiresAt - now()) / 1000) : DEFAULT_TTL_S);
  const store = new RedisStore({ client, prefix: SESSION_KEY_PREFIX, serializer: codec, disableTouch: true, ttl });
  guardStore(store, guard);
  const announce = (sid: string) => {
    cache.evict(sid);
    // a lost announcement is bounded by the cache TTL; the outage log already reports a failing Redis
    client.publish(INVALIDATION_CHANNEL, sid).catch(() => {});
  };
  announceWrites(store, announce);
  const refresh = async (sid: string, data: session.SessionData) => {
    const ttl = (data.expiresAt ?? 0) - now();
    if (ttl <= 0) return;
    // XX: only if the key is still there, so a concurrent logout stays a logout
    await guard.call(() => client.set(SESSION_KEY_PREFIX + sid, codec.stringify(data), 'PX', ttl, 'XX'));
    announce(sid);
  };
  // QUIT waits for Redis to answer; a hung Redis must not hold the process: give it one command timeout
  const quit = (c: Redis) => settleWithin(c.quit(), cfg.command_timeout).then(() => c.disconnect());
  return wrap(
    store,
    'redis',
    cache,
    refresh,
    async () => {
      try {
        return (await client.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
    async () => {
      // a PING may take command_timeout at most, as every command; at startup a busy machine may miss
      // that once, so PING is retried until the connect timeout (session.redis.timeout) is spent
      const deadline = Date.now() + connectMs;
      for (;;) {
        try {
          const answer = await client.ping();
          if (answer !== 'PONG') throw new GatehouseError('session_store_unavailable', `session store: ${endpoint} answered PING with '${answer}'`);
          return;
        } catch (error) {
          if (error instanceof GatehouseError) throw error;
          if ((error as Error).message !== 'Command timed out' || Date.now() >= deadline) {
            const reason = (error as Error).message === 'Command timed out' ? `no answer within ${cfg.timeout} s` : redisReason(error, cfg);
            throw new GatehouseError('session_store_unavailable', `session store: ${endpoint} did not answer PING: ${reason}`, { cause: error });
          }
        }
      }
    },
    async () => {
      closing = true;
      await Promise.all([quit(client), quit(subscriber)]);
    },
  );
}
