// A client names Remote-User (or any header) in Connection; a later hop would then drop the identity
// headers Gatehouse set. The embedded proxy must end every hop-by-hop header at itself (RFC 9110 §7.6.1).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { startEchoUpstream, type EchoedRequest, type EchoUpstream } from '../helpers/echo-upstream.ts';
import { request } from '../helpers/http.ts';
import { startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { freePort } from '../helpers/ports.ts';
import { serve } from '../../lib/http-server.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const PASSWORD = 'correct horse battery staple';
const HOP_BY_HOP = ['keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade'];

/** One raw request through the gateway; resolves with the status (101 for an accepted upgrade). */
function send(port: number, path: string, headers: OutgoingHttpHeaders, body?: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', headers, agent: false, timeout: 5_000 });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => {
        req.socket?.destroy(); // the client asked for keep-alive: don't hold the gateway open
        resolve(res.statusCode ?? 0);
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * One request written as is on a raw socket; resolves with the status line, the headers and the body of
 * the answer (the body as sent: chunked stays chunked; '' when the socket ended without an answer, or
 * nothing complete came within 3 s).
 */
function raw(port: number, text: string): Promise<{ statusLine: string; head: string; body: string }> {
  return new Promise((resolve) => {
    let data = Buffer.alloc(0);
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    const done = () => {
      socket.destroy();
      const text = data.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      resolve(end === -1 ? { statusLine: '', head: text, body: '' } : { statusLine: text.slice(0, text.indexOf('\r\n')), head: text.slice(0, end), body: text.slice(end + 4) });
    };
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const text = data.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end));
      const chunked = /\r\ntransfer-encoding:\s*chunked/i.test(text.slice(0, end));
      if (length ? data.length - end - 4 >= Number(length[1]) : chunked && text.endsWith('0\r\n\r\n')) done();
    });
    socket.setTimeout(3_000, done);
    socket.on('close', done);
    socket.on('error', done);
  });
}

let echo: EchoUpstream;
let gw: InProcessGateway;
let temp: { dir: string; cleanup: () => Promise<void> };
let cookie: string;
let host: string;

const through = async (path: string, headers: OutgoingHttpHeaders, body?: string): Promise<{ status: number; seen: EchoedRequest | undefined }> => {
  const before = echo.requests.length;
  const status = await send(gw.port, path, { host, cookie, ...headers }, body);
  return { status, seen: echo.requests.slice(before)[0] };
};

before(async () => {
  echo = await startEchoUpstream({ websocket: true });
  temp = await makeTempDir();
  const port = await freePort();
  host = `localhost:${port}`;
  gw = await startInProcessGateway({
    dir: temp.dir,
    users: { alice: { password: PASSWORD, groups: ['dev'], displayname: 'Alice A', email: 'alice@example.test' } },
    config: {
      server: { address: `tcp://127.0.0.1:${port}`, upstreams: { default: echo.url } },
      session: { cookies: [{ domain: 'localhost', authelia_url: `http://${host}/auth/` }] },
      access_control: { default_policy: 'one_factor' },
      // so that every header Gatehouse can write is written, Remote-Assertion included
      identity_assertion: { audiences: { localhost: 'app' }, key_path: join(temp.dir, 'assertion-key.pem') },
    },
  });
  const login = await request(`http://${host}/auth/api/firstfactor`, { method: 'POST', json: { username: 'alice', password: PASSWORD }, headers: { origin: `http://${host}` } });
  const set = login.cookies.find((c) => c.name === 'gatehouse_session');
  assert.ok(set, `login failed: ${login.status} ${login.body}`);
  cookie = `gatehouse_session=${set.value}`;
});
after(async () => {
  await echo?.close(); // first: it ends the proxied WebSocket, which would hold the gateway open
  await gw?.close();
  await temp?.cleanup();
});

describe('the embedded proxy ends hop-by-hop headers at itself', () => {
  it('HTTP: a header named in Connection never reaches the app, and Remote-User arrives all the same', async () => {
    const { status, seen } = await through('/app/', {
      connection: 'keep-alive, Remote-User, Remote-Groups, X-Hop-Only',
      'x-hop-only': 'for the next hop only',
      'keep-alive': 'timeout=5',
      te: 'trailers',
      'proxy-connection': 'Remote-Email',
    });
    assert.equal(status, 200);
    assert.ok(seen, 'the app got the request');
    assert.equal(seen.headers['remote-user'], 'alice');
    assert.equal(seen.headers['remote-groups'], 'dev');
    assert.equal(seen.headers['x-hop-only'], undefined);
    for (const name of HOP_BY_HOP) assert.equal(seen.headers[name], undefined, `${name} was forwarded`);
    assert.doesNotMatch(String(seen.headers.connection ?? ''), /remote|x-hop-only/i, 'the app (and any hop after it) is not told to drop anything');
  });

  it('HTTP: a chunked body still arrives whole, framed afresh', async () => {
    const { status, seen } = await through('/app/upload', { connection: 'Transfer-Encoding, Remote-User', 'transfer-encoding': 'chunked' }, 'a body in chunks');
    assert.equal(status, 200);
    assert.ok(seen);
    assert.equal(seen.body, 'a body in chunks');
    assert.equal(seen.headers['remote-user'], 'alice');
    assert.doesNotMatch(String(seen.headers.connection ?? ''), /remote/i);
  });

  it('HTTP: naming Host or Content-Length in Connection is refused, never forwarded without them', async () => {
    const { status, seen } = await through('/app/', { connection: 'Content-Length' }, 'x');
    assert.equal(status, 400);
    assert.equal(seen, undefined);
  });

  it('WebSocket: the upgrade stays an upgrade, the headers named in Connection do not pass', async () => {
    const { status, seen } = await through('/app/socket', {
      connection: 'Upgrade, Remote-User, X-Hop-Only',
      upgrade: 'websocket',
      'x-hop-only': 'for the next hop only',
      'keep-alive': 'timeout=5',
      'sec-websocket-version': '13',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    });
    assert.equal(status, 101);
    assert.ok(seen, 'the app got the upgrade');
    assert.equal(seen.headers['remote-user'], 'alice');
    assert.equal(seen.headers['x-hop-only'], undefined);
    assert.equal(seen.headers['keep-alive'], undefined);
    assert.equal(seen.headers.upgrade, 'websocket');
    assert.equal(String(seen.headers.connection).toLowerCase(), 'upgrade');
  });
});

/** Every header Gatehouse writes on the way to the app, named by a client in Connection. */
const GATEHOUSE_HEADERS = ['X-Forwarded-For', 'X-Forwarded-Proto', 'X-Forwarded-Host', 'Remote-User', 'Remote-Groups', 'Remote-Name', 'Remote-Email', 'Remote-Assertion'];

/** What the app must see from Gatehouse, whatever the client named in Connection. */
function assertGatehouseHeaders(seen: EchoedRequest | undefined): void {
  assert.ok(seen, 'the app got the request');
  const why = `the app saw ${JSON.stringify(seen.headers)}`;
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1', why);
  assert.equal(seen.headers['x-forwarded-proto'], 'http', why);
  assert.equal(seen.headers['x-forwarded-host'], host, why);
  assert.equal(seen.headers['remote-user'], 'alice', why);
  assert.equal(seen.headers['remote-groups'], 'dev', why);
  assert.equal(seen.headers['remote-name'], 'Alice A', why);
  assert.equal(seen.headers['remote-email'], 'alice@example.test', why);
  assert.match(String(seen.headers['remote-assertion']), /^[\w-]+\.[\w-]+\.[\w-]+$/, why);
  // the session cookie is still filtered out, never forwarded because the client named Cookie
  assert.doesNotMatch(String(seen.headers.cookie ?? ''), /gatehouse_session/, why);
  assert.doesNotMatch(String(seen.headers.connection ?? ''), /forwarded|remote|cookie/i, 'the app (and any hop after it) is not told to drop anything');
}

describe('a client cannot make Gatehouse drop the headers it writes by naming them in Connection', () => {
  it('HTTP: X-Forwarded-*, Remote-* and Remote-Assertion all reach the app', async () => {
    const { status, seen } = await through('/app/', { connection: ['keep-alive', ...GATEHOUSE_HEADERS, 'Cookie'].join(', ') });
    assert.equal(status, 200);
    assertGatehouseHeaders(seen);
  });

  it('HTTP: in Proxy-Connection, and in a second Connection header, too', async () => {
    const { status, seen } = await through('/app/', { connection: ['keep-alive', GATEHOUSE_HEADERS.slice(0, 4).join(', ')], 'proxy-connection': GATEHOUSE_HEADERS.slice(4).join(', ') });
    assert.equal(status, 200);
    assertGatehouseHeaders(seen);
  });

  it('WebSocket: X-Forwarded-*, Remote-* and Remote-Assertion all reach the app with the upgrade', async () => {
    const { status, seen } = await through('/app/socket', {
      connection: ['Upgrade', ...GATEHOUSE_HEADERS, 'Cookie'].join(', '),
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    });
    assert.equal(status, 101);
    assertGatehouseHeaders(seen);
    assert.equal(seen?.headers.upgrade, 'websocket');
  });
});

describe('a request asking to upgrade to anything but a WebSocket is served as the plain request it also is', () => {
  // what `curl --http2 http://…` sends
  const h2c = 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n';

  it('Upgrade: h2c through the embedded proxy: 200 from the app, which gets a plain GET', async () => {
    const before = echo.requests.length;
    const answer = await raw(gw.port, `GET /app/h2c HTTP/1.1\r\nHost: ${host}\r\nCookie: ${cookie}\r\n${h2c}\r\n`);
    assert.equal(answer.statusLine, 'HTTP/1.1 200 OK', `the gateway answered: ${JSON.stringify(answer.head)}`);
    const seen = echo.requests.slice(before)[0];
    assert.ok(seen, 'the app got the request');
    assert.equal(seen.method, 'GET');
    assert.equal(seen.url, '/app/h2c');
    assert.equal(seen.headers['remote-user'], 'alice');
    assert.equal(seen.headers.upgrade, undefined);
    assert.equal(seen.headers['http2-settings'], undefined);
    assert.doesNotMatch(String(seen.headers.connection ?? ''), /upgrade/i);
    assert.equal((JSON.parse(answer.body) as { url: string }).url, '/app/h2c');
  });

  it('Upgrade: h2c without a session: the same 401 as without the Upgrade, not a dropped connection', async () => {
    const answer = await raw(gw.port, `GET /app/h2c HTTP/1.1\r\nHost: ${host}\r\n${h2c}\r\n`);
    assert.equal(answer.statusLine, 'HTTP/1.1 401 Unauthorized', `the gateway answered: ${JSON.stringify(answer.head)}`);
  });

  it('Upgrade: h2c on a portal path: the portal answers as without the Upgrade (not 404)', async () => {
    const plain = await raw(gw.port, `GET /auth/api/state HTTP/1.1\r\nHost: ${host}\r\nCookie: ${cookie}\r\n\r\n`);
    const upgrade = await raw(gw.port, `GET /auth/api/state HTTP/1.1\r\nHost: ${host}\r\nCookie: ${cookie}\r\n${h2c}\r\n`);
    assert.equal(plain.statusLine, 'HTTP/1.1 200 OK');
    assert.equal(upgrade.statusLine, plain.statusLine, `the portal answered: ${JSON.stringify(upgrade.head)}`);
    assert.equal(upgrade.body, plain.body);
  });

  it('a POST naming websocket is no WebSocket handshake: served as a plain POST, body and all', async () => {
    const before = echo.requests.length;
    const answer = await raw(
      gw.port,
      `POST /app/form HTTP/1.1\r\nHost: ${host}\r\nCookie: ${cookie}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 5\r\n\r\nhello`,
    );
    assert.equal(answer.statusLine, 'HTTP/1.1 200 OK', `the gateway answered: ${JSON.stringify(answer.head)}`);
    const seen = echo.requests.slice(before)[0];
    assert.ok(seen, 'the app got the request');
    assert.equal(seen.method, 'POST');
    assert.equal(seen.body, 'hello');
    assert.equal(seen.headers.upgrade, undefined);
  });
});

describe('a Node that hands every upgrade to the upgrade handler (no shouldUpgradeCallback): a clear 400, never a dropped socket', () => {
  it('Upgrade: h2c gets 400 naming the reason; the service never sees it as a WebSocket', async () => {
    const upgrades: string[] = [];
    const service = await serve({
      address: 'tcp://127.0.0.1:0',
      request: (_req, res) => void res.writeHead(200).end('plain'),
      upgrade: (req, socket) => {
        upgrades.push(req.headers.upgrade ?? '');
        socket.destroy();
      },
    });
    try {
      // what Node before 24.9 / 22.21 does: every Upgrade request is an upgrade
      (service.server as unknown as { shouldUpgradeCallback: () => boolean }).shouldUpgradeCallback = () => true;
      const answer = await raw(service.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n');
      assert.equal(answer.statusLine, 'HTTP/1.1 400 Bad Request', `answered: ${JSON.stringify(answer.head)}`);
      assert.match(answer.body, /only WebSocket upgrades are accepted/);
      assert.deepEqual(upgrades, []);
    } finally {
      await service.close(0);
    }
  });
});
