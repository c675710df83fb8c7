/**
 * Issue 7, item 15: SIGTERM used to cut a request in flight on a keep-alive connection after 5 s and
 * leave keep-alive connections to be reused after the answer, and a hung Redis kept the process from
 * ever exiting. Now: listeners stop accepting, a running request finishes and its answer says
 * `Connection: close`, the stores close (a hung Redis within its command timeout), the process exits
 * 0 within `server.shutdown_timeout`; a second signal exits at once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { WebSocket } from 'ws';
import { pino } from 'pino';
import { startMonitor, type Monitor } from '../../monitor/app.ts';
import { parseMonitorConfig } from '../../monitor/config/load.ts';
import { request } from '../helpers/http.ts';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway.ts';
import { eventually, FAST_ARGON2, writeUsersFile } from '../helpers/inprocess-gateway.ts';
import { freePort } from '../helpers/ports.ts';
import { startRedis, type RedisServer } from '../helpers/redis.ts';
import { startStallProxy, type StallProxy } from '../helpers/stall-proxy.ts';
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { generateSecret } from '../../lib/secret-strength.ts';

const secret = () => generateSecret();

/** An upstream app that holds every request until the test lets it answer. */
async function startHeldUpstream(): Promise<{ server: Server; port: number; arrived: Promise<void>; release(): void }> {
  const held: ServerResponse[] = [];
  let arrivedResolve!: () => void;
  const arrived = new Promise<void>((resolve) => (arrivedResolve = resolve));
  const server = createServer((_req, res) => {
    held.push(res);
    arrivedResolve();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { server, port, arrived, release: () => held.splice(0).forEach((res) => res.end('slow answer')) };
}

function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });
}

/** A raw keep-alive connection: send a request, collect what comes back and whether the peer closed it. */
function keepAliveConnection(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString('latin1')));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('error', reject);
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
  });
}

async function gatewayConfig(dir: string, extra: Record<string, unknown>): Promise<{ yaml: string; port: number }> {
  const port = await freePort();
  await writeUsersFile(join(dir, 'users.yml'), { alice: { password: 'alice-password' } });
  const base = {
    server: { address: `tcp://127.0.0.1:${port}` },
    log: { level: 'info', format: 'json' },
    authentication_backend: { file: { path: join(dir, 'users.yml'), password: { argon2: FAST_ARGON2 } } },
    session: { secret: secret(), cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }] },
    storage: { encryption_key: secret(), local: { path: join(dir, 'db.sqlite3') } },
    access_control: { default_policy: 'one_factor', rules: [{ domain: 'app.example.test', policy: 'bypass' }] },
  };
  const merged = { ...base, ...extra, server: { ...base.server, ...(extra.server as object) }, session: { ...base.session, ...(extra.session as object) } };
  return { yaml: stringify(merged), port };
}

/** A gateway process whose embedded proxy sends app.example.test to an upstream that holds every request. */
async function startGatewayBeforeHeldUpstream(prefix: string) {
  const temp = await makeTempDir(prefix);
  const upstream = await startHeldUpstream();
  const { yaml } = await gatewayConfig(temp.dir, { server: { upstreams: { 'app.example.test': `http://127.0.0.1:${upstream.port}` } } });
  const gateway = await startGatewayProcess({ dir: temp.dir, configYaml: yaml });
  return { temp, upstream, gateway };
}

async function stopGatewayAndHeldUpstream(parts: { temp?: { cleanup(): Promise<void> }; upstream?: Awaited<ReturnType<typeof startHeldUpstream>>; gateway?: GatewayProcess }): Promise<void> {
  parts.upstream?.release();
  await parts.gateway?.stop();
  parts.upstream?.server.close();
  await parts.temp?.cleanup();
}

describe('SIGTERM lets a keep-alive request in flight finish, answers it with Connection: close, then exits 0', () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  let upstream: Awaited<ReturnType<typeof startHeldUpstream>>;
  let gateway: GatewayProcess;
  before(async () => {
    ({ temp, upstream, gateway } = await startGatewayBeforeHeldUpstream('gatehouse-sigterm-'));
  });
  after(() => stopGatewayAndHeldUpstream({ temp, upstream, gateway }));

  it('finishes the request, closes its connection, refuses new ones, exits 0', { timeout: 30_000 }, async () => {
    const conn = await keepAliveConnection(gateway.port);
    // first a quick answer on the connection, so it is a reused keep-alive connection
    conn.socket.write('GET /api/health HTTP/1.1\r\nHost: auth.example.test\r\n\r\n');
    await eventually('the health answer', () => conn.received().endsWith('\r\n0\r\n\r\n'), 10_000);
    assert.match(conn.received(), /^HTTP\/1\.1 200/);
    assert.match(conn.received(), /\r\nConnection: keep-alive\r\n/i);
    const afterFirst = conn.received().length;
    conn.socket.write('GET /slow HTTP/1.1\r\nHost: app.example.test\r\nX-Forwarded-Proto: https\r\n\r\n');
    await upstream.arrived;

    process.kill(gateway.pid, 'SIGTERM');
    await eventually('the shutdown to begin', () => gateway.logs().includes('shutting down'), 10_000);
    assert.equal(await portRefuses(gateway.port), true, 'a new connection is refused while draining');

    upstream.release();
    await conn.closed;
    const answer = conn.received().slice(afterFirst);
    assert.match(answer, /^HTTP\/1\.1 200/);
    assert.match(answer, /\r\nConnection: close\r\n/i);
    assert.ok(answer.endsWith('slow answer'), answer);
    assert.deepEqual(await gateway.exited, { code: 0, signal: null });
  });
});

describe('SIGTERM with Redis hung: the process still exits within server.shutdown_timeout', () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  let redis: RedisServer;
  let proxy: StallProxy;
  let gateway: GatewayProcess;
  before(async () => {
    temp = await makeTempDir('gatehouse-sigterm-redis-');
    redis = await startRedis();
    proxy = await startStallProxy({ host: redis.host, port: redis.port });
    const { yaml } = await gatewayConfig(temp.dir, { server: { shutdown_timeout: '1s' }, session: { redis: { host: proxy.host, port: proxy.port } } });
    gateway = await startGatewayProcess({ dir: temp.dir, configYaml: yaml });
  });
  after(async () => {
    proxy?.resume();
    await gateway?.stop();
    await proxy?.close();
    await redis?.stop();
    await temp?.cleanup();
  });

  it('exits instead of waiting for Redis forever', { timeout: 30_000 }, async () => {
    proxy.stall();
    process.kill(gateway.pid, 'SIGTERM');
    // generous bound on a wait that used to be endless; the deadline configured is 1 s
    const exited = await Promise.race([gateway.exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 8_000))]);
    assert.notEqual(exited, 'still running', gateway.logs());
    assert.equal((exited as { signal: unknown }).signal, null, 'it exited by itself, not killed');
  });
});

describe('a second SIGTERM exits at once, even with a request still running', () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  let upstream: Awaited<ReturnType<typeof startHeldUpstream>>;
  let gateway: GatewayProcess;
  before(async () => {
    ({ temp, upstream, gateway } = await startGatewayBeforeHeldUpstream('gatehouse-sigterm-twice-'));
  });
  after(() => stopGatewayAndHeldUpstream({ temp, upstream, gateway }));

  it('exits 1 on the second signal without waiting for the running request', { timeout: 30_000 }, async () => {
    const conn = await keepAliveConnection(gateway.port);
    conn.socket.write('GET /slow HTTP/1.1\r\nHost: app.example.test\r\nX-Forwarded-Proto: https\r\n\r\n');
    await Promise.race([upstream.arrived, conn.closed.then(() => assert.fail(`the gateway answered: ${conn.received()}`))]);
    process.kill(gateway.pid, 'SIGTERM');
    await eventually('the shutdown to begin', () => gateway.logs().includes('shutting down'), 10_000);
    process.kill(gateway.pid, 'SIGTERM');
    assert.deepEqual(await gateway.exited, { code: 1, signal: null });
    assert.match(gateway.logs(), /second signal: exiting now/);
    conn.socket.destroy();
  });
});

describe('SIGTERM with a WebSocket open through the embedded proxy: it ends and the process exits 0', () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  let upstream: EchoUpstream;
  let gateway: GatewayProcess;
  before(async () => {
    temp = await makeTempDir('gatehouse-sigterm-ws-');
    upstream = await startEchoUpstream({ websocket: true });
    const { yaml } = await gatewayConfig(temp.dir, { server: { shutdown_timeout: '5s', upstreams: { 'app.example.test': upstream.url } } });
    gateway = await startGatewayProcess({ dir: temp.dir, configYaml: yaml });
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    await temp?.cleanup();
  });

  it('ends the open WebSocket instead of waiting the whole shutdown_timeout for it, and closes the stores', { timeout: 30_000 }, async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/chat`, { headers: { host: 'app.example.test', 'x-forwarded-proto': 'https' } });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.once('error', () => {});
    await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))));
    const echoed = new Promise<string>((resolve) => ws.once('message', (data) => resolve(data.toString())));
    ws.send('hello through the gateway');
    assert.equal(await echoed, 'hello through the gateway');

    process.kill(gateway.pid, 'SIGTERM');
    // bounded below the 5 s deadline: a process that waited for the WebSocket exits 1 at the deadline
    const exited = await Promise.race([gateway.exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 4_000))]);
    assert.deepEqual(exited, { code: 0, signal: null }, gateway.logs());
    assert.doesNotMatch(gateway.logs(), /shutdown deadline passed/);
    const code = await Promise.race([closed, new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), 2_000))]);
    assert.notEqual(code, 'open', "the client's WebSocket is closed");
  });
});

describe("the monitor's shutdown with a terminal open whose client does not answer the close frame", () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  let monitor: Monitor;
  before(async () => {
    temp = await makeTempDir('gatehouse-sigterm-terminal-');
    const { config } = parseMonitorConfig({
      server: { address: 'tcp://127.0.0.1:0', shutdown_timeout: '5s' },
      data_dir: temp.dir,
      terminal: { shell: '/bin/bash', user: 'nobody', max_sessions: 4 },
    });
    monitor = await startMonitor(config, { logger: pino({ level: 'silent' }), argon2: FAST_ARGON2 });
  });
  after(async () => {
    await temp?.cleanup();
  });

  it('sends 1001 "Server shutting down", ends the connection and finishes closing well within server.shutdown_timeout', { timeout: 30_000 }, async () => {
    const setup = await request(`${monitor.url}/api/auth/setup`, { method: 'POST', json: { username: 'operator', password: 'Operator-pass-2026', setup_code: monitor.setupCode() } });
    assert.equal(setup.status, 200, setup.body);
    const token = setup.json<{ token: string }>().token;
    const issued = await request(`${monitor.url}/api/terminal/ticket`, { method: 'POST', json: {}, headers: { authorization: `Bearer ${token}` } });
    assert.equal(issued.status, 200, issued.body);
    const ws = new WebSocket(`${monitor.url.replace(/^http/, 'ws')}/ws/terminal?ticket=${issued.json<{ ticket: string }>().ticket}`);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.once('error', () => {});
    await new Promise<void>((resolve) => ws.once('open', () => resolve()));
    // a client that stopped reading: it never answers the close frame
    (ws as unknown as { _socket: Socket })._socket.pause();

    const closing = monitor.close().then(() => 'closed' as const);
    // bounded below the 5 s grace: a drain that waited for the WebSocket's close handshake took 30 s
    assert.equal(await Promise.race([closing, new Promise<'still closing'>((resolve) => setTimeout(() => resolve('still closing'), 4_000))]), 'closed');
    (ws as unknown as { _socket: Socket })._socket.resume();
    assert.deepEqual(await closed, { code: 1001, reason: 'Server shutting down' });
  });
});
