import { join } from 'node:path';
import { captureLogs } from './logs.ts';
import { stringify } from 'yaml';
import { startGateway, type Gateway } from '../../gateway/app.ts';
import { deepMerge, parseGatewayConfig } from '../../gateway/config/load.ts';
import type { GatewayConfig } from '../../gateway/config/schema.ts';
import { renderProblem } from '../../lib/config-problems.ts';
import { writeFileAtomic } from '../../lib/fs-atomic.ts';
import { hashPassword, verifyPassword } from '../../lib/password-hash.ts';
import { request, type HttpResponse, type RequestOptions } from './http.ts';
import { makeTempDir } from './tmp.ts';
import { generateSecret } from '../../lib/secret-strength.ts';

/** Cheap argon2id parameters for test users and for the gateway under test (it warns about them). */
export const FAST_ARGON2 = { memory: 1024, iterations: 1, parallelism: 1 };

export interface TestUser {
  password: string;
  displayname?: string;
  email?: string;
  groups?: string[];
  disabled?: boolean;
}

// an operator editing groups leaves the password hash alone: so does rewriting the file here (a new
// hash, even of the same password, is a new credential and ends the user's sessions)
const hashes = new Map<string, string>();

async function hashOnce(name: string, password: string): Promise<string> {
  const key = `${name}\0${password}`;
  let hash = hashes.get(key);
  if (!hash) {
    hash = await hashPassword(password, FAST_ARGON2);
    hashes.set(key, hash);
  }
  return hash;
}

/** An Authelia-format users file (0600) with argon2id hashes of the given passwords. */
export async function writeUsersFile(path: string, users: Record<string, TestUser>): Promise<void> {
  const entries: Record<string, unknown> = {};
  for (const [name, user] of Object.entries(users)) {
    entries[name] = {
      displayname: user.displayname ?? name,
      password: await hashOnce(name, user.password),
      ...(user.email ? { email: user.email } : {}),
      groups: user.groups ?? [],
      ...(user.disabled ? { disabled: true } : {}),
    };
  }
  await writeFileAtomic(path, stringify({ users: entries }), 0o600);
}

/** Wall-clock time plus an offset the test moves forward. */
export interface TestClock {
  now(): number;
  advance(ms: number): void;
}

export function makeClock(): TestClock {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance(ms) {
      offset += ms;
    },
  };
}

export interface InProcessGateway {
  gateway: Gateway;
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  dir: string;
  usersPath: string;
  config: GatewayConfig;
  /** Warnings the configuration produced (as the CLI would log them). */
  warnings: string[];
  sessionSecret: string;
  clock: TestClock;
  /** Every JSON log line so far. */
  logs(): Record<string, unknown>[];
  /** The raw log text so far. */
  logText(): string;
  close(): Promise<void>;
}

export interface InProcessGatewayOptions {
  /** Merged over the defaults (objects key by key, lists replaced). */
  config?: Record<string, unknown>;
  users?: Record<string, TestUser>;
  minFailureDelayMs?: number;
  /** Share a clock between gateways; default a fresh one. */
  clock?: TestClock;
  /** Reuse a directory (and its users file) instead of a fresh one; the caller removes it. */
  dir?: string;
  /** Replaces the password verifier (count or hold the calls; see countingVerifier). */
  verifyPassword?: (encoded: string, password: string) => Promise<boolean>;
}

/**
 * A gateway in this process on a free port, configured for the cookie domain `example.test` with the
 * portal at `https://auth.example.test/` (reached over plain http with `X-Forwarded-Proto: https`, as
 * behind a TLS-terminating proxy on 127.0.0.1), SQLite storage, the memory session store, cheap argon2.
 */
export async function startInProcessGateway(options: InProcessGatewayOptions = {}): Promise<InProcessGateway> {
  const temp = options.dir ? null : await makeTempDir('gatehouse-gw-');
  const dir = options.dir ?? temp!.dir;
  const usersPath = join(dir, 'users.yml');
  try {
    if (options.users) await writeUsersFile(usersPath, options.users);
    const sessionSecret = generateSecret();
    const defaults: Record<string, unknown> = {
      server: { address: 'tcp://127.0.0.1:0' },
      authentication_backend: { file: { path: usersPath, password: { argon2: FAST_ARGON2 } } },
      session: { secret: sessionSecret, cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }] },
      storage: { encryption_key: 'a-test-encryption-key-long-enough', local: { path: join(dir, 'db.sqlite3') } },
      access_control: { default_policy: 'deny' },
    };
    const raw = options.config ? deepMerge(defaults, options.config) : defaults;
    // a directory instead of the users file: the default file backend would be a second one
    const backend = raw.authentication_backend as Record<string, unknown>;
    if (backend.ldap !== undefined) delete backend.file;
    const { config, warnings } = parseGatewayConfig(raw);
    const { logger, records, text } = captureLogs();
    const clock = options.clock ?? makeClock();
    const gateway = await startGateway(config, {
      logger,
      now: clock.now,
      minFailureDelayMs: options.minFailureDelayMs ?? 20,
      ...(options.verifyPassword ? { verifyPassword: options.verifyPassword } : {}),
    });
    return {
      gateway,
      url: gateway.url,
      port: gateway.port,
      dir,
      usersPath,
      config,
      warnings: warnings.map(renderProblem),
      sessionSecret: config.session.secret!,
      clock,
      logText: text,
      logs: () => records,
      async close() {
        await gateway.close();
        await temp?.cleanup();
      },
    };
  } catch (error) {
    await temp?.cleanup();
    throw error;
  }
}

/**
 * The real password verifier, counted, and held at a gate the test opens: lets a test assert how many
 * hashes ran and what was in flight at once, without depending on how fast hashing is.
 */
export interface CountingVerifier {
  verify: (encoded: string, password: string) => Promise<boolean>;
  /** Verifications started so far. */
  readonly started: number;
  /** The hash strings verifications were handed, in order. */
  readonly hashes: readonly string[];
  /** Lets every held and later verification run. */
  open(): void;
}

export function countingVerifier(options: { held?: boolean } = {}): CountingVerifier {
  let open!: () => void;
  const gate = options.held ? new Promise<void>((resolve) => (open = resolve)) : Promise.resolve();
  const hashes: string[] = [];
  return {
    async verify(encoded, password) {
      hashes.push(encoded);
      await gate;
      return verifyPassword(encoded, password);
    },
    get started() {
      return hashes.length;
    },
    hashes,
    open: () => open?.(),
  };
}

// ---- talking to it as a proxy and as a browser would ----

export type AuthzDialect = 'auth-request' | 'forward-auth' | 'legacy';

export const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
export const PORTAL_ORIGIN = 'https://auth.example.test';

/** The headers each proxy sends for `method target`. */
export function forwardHeaders(dialect: AuthzDialect, target: string, method = 'GET'): Record<string, string> {
  if (dialect === 'auth-request') return { 'x-original-url': target, 'x-original-method': method };
  const url = new URL(target);
  return {
    'x-forwarded-proto': url.protocol.replace(':', ''),
    'x-forwarded-host': url.host,
    'x-forwarded-uri': `${url.pathname}${url.search}`,
    'x-forwarded-method': method,
  };
}

const AUTHZ_PATH: Record<AuthzDialect, string> = {
  'auth-request': '/api/authz/auth-request',
  'forward-auth': '/api/authz/forward-auth',
  legacy: '/api/verify',
};

/**
 * The proxy's question "may this request through?" for `target`, with the browser's cookie and any
 * extra headers; `query` is appended to the endpoint (e.g. `?rd=` for legacy).
 */
export function askAuthz(
  gw: { url: string },
  dialect: AuthzDialect,
  target: string,
  options: { method?: string; cookie?: string; headers?: Record<string, string>; query?: string; requestMethod?: string } = {},
): Promise<HttpResponse> {
  return request(`${gw.url}${AUTHZ_PATH[dialect]}${options.query ?? ''}`, {
    method: options.requestMethod ?? 'GET',
    headers: {
      ...forwardHeaders(dialect, target, options.method),
      ...(options.cookie ? { cookie: options.cookie } : {}),
      ...options.headers,
    },
  });
}

/** A portal request as it arrives from the TLS-terminating proxy on 127.0.0.1. */
export function portal(gw: { port: number }, path: string, options: RequestOptions = {}): Promise<HttpResponse> {
  return request(`http://auth.example.test:${gw.port}${path}`, {
    ...options,
    headers: { 'x-forwarded-proto': 'https', ...options.headers },
  });
}

/** `POST /api/firstfactor` from the portal page. */
export function firstFactor(gw: { port: number }, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<HttpResponse> {
  return portal(gw, '/api/firstfactor', { method: 'POST', json: body, headers: { origin: PORTAL_ORIGIN, accept: 'application/json', ...headers } });
}

/** Logs in and returns the `Cookie` header value for the new session (throws if login fails). */
export async function login(gw: { port: number }, username: string, password: string, extra: Record<string, unknown> = {}): Promise<string> {
  const response = await firstFactor(gw, { username, password, ...extra });
  const cookie = response.cookies.find((c) => c.name === 'gatehouse_session');
  if (response.status !== 200 || !cookie) throw new Error(`login as ${username} failed: ${response.status} ${response.body} ${JSON.stringify(response.headers['set-cookie'])}`);
  return `gatehouse_session=${cookie.value}`;
}

/** Polls `check` every 25 ms until it returns true, for at most `timeoutMs`. */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
