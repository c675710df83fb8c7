// Fail closed, written once (gateway/authz/answer.ts): whatever throws while deciding or answering,
// in whichever dialect and over HTTP or a WebSocket upgrade, the answer is a deny (503 when a backend
// did not answer, 500 otherwise), never a 2xx and never the app behind the embedded proxy.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import pino from 'pino';
import type { AuthnStrategy, AuthzDeps } from '../../../gateway/authz/decide.ts';
import { DEFAULT_AUTHN_STRATEGIES } from '../../../gateway/authz/authn-strategies.ts';
import { createAuthzHandler } from '../../../gateway/authz/forward-auth.ts';
import type { AssertionIssuer } from '../../../gateway/authz/assertion.ts';
import { createEmbeddedProxy } from '../../../gateway/proxy/embedded-proxy.ts';
import type { CookieDomain } from '../../../gateway/session/cookie-domains.ts';
import { SessionStoreUnavailable, type SessionStore } from '../../../gateway/session/store.ts';
import type { UserDetails } from '../../../gateway/users/provider.ts';

const TARGET = 'https://app.example.test/page';
const ALICE: UserDetails = { username: 'alice', displayName: 'Alice', emails: ['alice@example.test'], groups: ['dev'], credentialStamp: 's1' };

const domain: CookieDomain = {
  domain: 'example.test', name: 'gatehouse_session', sameSite: 'lax', expiration: 3600, inactivity: 300, rememberMe: -1,
  portalUrl: new URL('https://auth.example.test/'), defaultRedirectionUrl: null, secure: true, cookieDomainAttribute: 'example.test',
};

/** Deps under which a request is let through (bypass, or alice's session), unless a scenario breaks a part. */
function depsWith(overrides: Partial<AuthzDeps>): AuthzDeps {
  return {
    cookieDomains: [domain],
    sessions: {} as SessionStore,
    sessionReader: { read: () => ({ sid: 'x', data: { identity: { username: 'alice' }, credentialStamp: 's1', amr: ['pwd'] } as never }) },
    authorizer: { defaultPolicy: 'one_factor', evaluate: () => ({ policy: 'one_factor', rule: -1, hasSubjects: false }), explain: () => [] },
    users: { getDetails: async () => ALICE, peekDetails: () => ALICE },
    firstFactor: { verify: async () => ({ ok: true, user: ALICE }), stats: () => ({ waitingForAttempts: 0 }) },
    isTrustedProxy: () => true,
    logger: pino({ level: 'silent' }),
    now: Date.now,
    ...overrides,
  };
}

const strategy = (name: string, parts: Partial<AuthnStrategy>): AuthnStrategy => ({
  name,
  rateLimit: null,
  credential: () => 'x',
  identify: () => {
    throw new Error('unreachable');
  },
  ...parts,
});

interface Scenario {
  what: string;
  deps?: Partial<AuthzDeps>;
  strategies?: readonly AuthnStrategy[];
  status: number;
}

const bug = () => new TypeError("Cannot read properties of undefined (reading 'username')");
const SCENARIOS: Scenario[] = [
  { what: 'a strategy throws while looking for its credential', strategies: [strategy('broken', { credential: () => { throw bug(); } })], status: 500 },
  { what: 'a strategy throws while identifying', strategies: [strategy('broken', { identify: () => { throw bug(); } })], status: 500 },
  { what: 'a strategy rejects while identifying', strategies: [strategy('broken', { identify: () => Promise.reject(bug()) })], status: 500 },
  { what: 'a strategy rejects because the session store did not answer', strategies: [strategy('hung', { identify: () => Promise.reject(new SessionStoreUnavailable(new Error('timeout'))) })], status: 503 },
  { what: 'the rules throw (a bypass that would otherwise allow)', deps: { authorizer: { defaultPolicy: 'bypass', evaluate: () => { throw bug(); }, explain: () => [] } }, status: 500 },
  { what: 'the user backend throws on a valid session', deps: { users: { getDetails: () => Promise.reject(bug()), peekDetails: () => { throw bug(); } } }, status: 500 },
  { what: 'the session reader throws', deps: { sessionReader: { read: () => { throw bug(); } } }, status: 500 },
];

/** Answering an allow throws: the identity assertion cannot be signed. */
const unsignable: AssertionIssuer = {
  jwks: { keys: [] },
  cachedAssertionFor: () => undefined,
  assertionFor: () => Promise.reject(new Error('signing key unreadable')),
};

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** One request; resolves with its status and headers. */
function ask(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; headers: IncomingMessage['headers'] }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { ...headers, cookie: 'gatehouse_session=s%3Ax.y' }, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
    req.end();
  });
}

/** A WebSocket handshake on a raw socket; resolves with the status line ('' when closed without one). */
function upgrade(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write('GET /socket HTTP/1.1\r\nHost: app.example.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nCookie: gatehouse_session=s%3Ax.y\r\n\r\n'),
    );
    let text = '';
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer to the upgrade within 5 s')));
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(text.split('\r\n')[0] ?? ''));
  });
}

const FORWARDED: Record<'auth-request' | 'forward-auth' | 'legacy', { path: string; headers: Record<string, string> }> = {
  'auth-request': { path: '/api/authz/auth-request', headers: { 'x-original-url': TARGET, 'x-original-method': 'GET' } },
  'forward-auth': { path: '/api/authz/forward-auth', headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.test', 'x-forwarded-uri': '/page', 'x-forwarded-method': 'GET' } },
  legacy: { path: '/api/verify', headers: { 'x-original-url': TARGET } },
};

describe('fail closed: an error while deciding or answering is a deny in every dialect, never a 2xx', () => {
  let upstream: Server;
  let upstreamPort: number;
  let contacted = 0;
  const servers: Server[] = [];
  before(async () => {
    upstream = createServer((_req, res) => {
      contacted++;
      res.end('the app');
    });
    upstream.on('upgrade', (_req, socket) => {
      contacted++;
      socket.end('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    });
    upstreamPort = await listen(upstream);
  });
  after(async () => {
    for (const server of [...servers, upstream]) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  /** The forward-auth endpoint of `dialect`, or the embedded proxy, on a port of its own. */
  async function serve(dialect: keyof typeof FORWARDED | 'embedded', deps: AuthzDeps, strategies: readonly AuthnStrategy[]): Promise<number> {
    let server: Server;
    if (dialect === 'embedded') {
      const proxy = createEmbeddedProxy({ default: `http://127.0.0.1:${upstreamPort}` }, 'https', deps, strategies);
      server = createServer((req, res) => proxy.handle(req, res, 'app.example.test'));
      server.on('upgrade', (req, socket, head) => proxy.upgrade(req, socket as never, head, 'app.example.test'));
    } else {
      server = createServer(createAuthzHandler(dialect, deps, strategies));
    }
    servers.push(server);
    return listen(server);
  }

  it('the set-up lets the request through when nothing breaks (so each deny below is the error’s doing)', async () => {
    for (const dialect of ['auth-request', 'forward-auth', 'legacy'] as const) {
      const port = await serve(dialect, depsWith({}), DEFAULT_AUTHN_STRATEGIES);
      const answer = await ask(port, FORWARDED[dialect].path, FORWARDED[dialect].headers);
      assert.equal(answer.status, 200, dialect);
      assert.equal(answer.headers['remote-user'], 'alice', dialect);
    }
    const port = await serve('embedded', depsWith({}), DEFAULT_AUTHN_STRATEGIES);
    const before = contacted;
    assert.equal((await ask(port, '/page', { host: 'app.example.test' })).status, 200);
    assert.equal(await upgrade(port), 'HTTP/1.1 101 Switching Protocols');
    assert.equal(contacted, before + 2);
  });

  for (const scenario of [...SCENARIOS, { what: 'answering an allow throws: the identity assertion cannot be signed', deps: { assertions: unsignable }, status: 500 }]) {
    describe(scenario.what, () => {
      for (const dialect of ['auth-request', 'forward-auth', 'legacy'] as const) {
        it(`${dialect}: ${scenario.status}`, async () => {
          const port = await serve(dialect, depsWith(scenario.deps ?? {}), scenario.strategies ?? DEFAULT_AUTHN_STRATEGIES);
          const answer = await ask(port, FORWARDED[dialect].path, FORWARDED[dialect].headers);
          assert.equal(answer.status, scenario.status);
          assert.equal(answer.headers['remote-user'], undefined);
          if (scenario.status === 503) assert.equal(answer.headers['retry-after'], '5');
        });
      }

      it(`embedded proxy, HTTP and WebSocket: ${scenario.status}, and the app is never contacted`, async () => {
        const port = await serve('embedded', depsWith(scenario.deps ?? {}), scenario.strategies ?? DEFAULT_AUTHN_STRATEGIES);
        const before = contacted;
        const answer = await ask(port, '/page', { host: 'app.example.test' });
        assert.equal(answer.status, scenario.status);
        if (scenario.status === 503) assert.equal(answer.headers['retry-after'], '5');
        const statusLine = await upgrade(port);
        assert.match(statusLine, new RegExp(`^HTTP/1\\.1 ${scenario.status} `));
        assert.equal(contacted, before, 'the app was contacted');
      });
    });
  }
});
