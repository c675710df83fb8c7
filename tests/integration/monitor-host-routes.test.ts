// The host data routes over real HTTP: statuses, JSON shapes, headers, the cached public health
// figure, and a 500 that tells the client nothing about why.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import packageJson from '../../package.json' with { type: 'json' };
import { createHostHandlers, type HostHandlerOptions, type HostHandlers } from '../../monitor/api/host.ts';
import { startMonitor, type Monitor } from '../../monitor/app.ts';
import { describeMonitorRoutes } from '../../monitor/routes.ts';
import { parseMonitorConfig } from '../../monitor/config/load.ts';
import { request } from '../helpers/http.ts';
import { makeClock } from '../helpers/inprocess-gateway.ts';
import { captureLogs, LEVEL } from '../helpers/logs.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { df, free } from '../unit/monitor/host/host-tools.ts';

/** The host data paths and the handler each row of the route table gives them. */
const HOST_HANDLERS: Record<string, keyof HostHandlers> = {
  '/api/system-info': 'systemInfo',
  '/api/health': 'health',
  '/api/system': 'system',
  '/api/storage': 'storage',
  '/api/network': 'network',
  '/api/storage/summary': 'storageSummary',
  '/api/network/summary': 'networkSummary',
  '/api/prometheus': 'prometheus',
};
const HOST_PATHS = Object.keys(HOST_HANDLERS);

/** The host handlers alone, without the table's guards. */
async function serve(options: Omit<HostHandlerOptions, 'logger'> = {}) {
  const logs = captureLogs();
  const app = express();
  const handlers = createHostHandlers({ logger: logs.logger, ...options });
  for (const [path, name] of Object.entries(HOST_HANDLERS)) app.get(path, handlers[name]);
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, logs, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('through the monitor\'s route table, only system-info and health answer anonymously', () => {
  let monitor: Monitor;
  let cleanup: () => Promise<void>;
  before(async () => {
    const temp = await makeTempDir('gatehouse-host-routes-public-');
    cleanup = temp.cleanup;
    const { config } = parseMonitorConfig({ server: { address: 'tcp://127.0.0.1:0' }, data_dir: temp.dir });
    monitor = await startMonitor(config, { logger: captureLogs().logger, argon2: { memory: 1024, iterations: 1, parallelism: 1 } });
  });
  after(async () => {
    await monitor?.close();
    await cleanup?.();
  });

  it('anonymous: /api/system-info and /api/health are 200, every other host path 401', async () => {
    const open: string[] = [];
    for (const path of HOST_PATHS) {
      const res = await request(`${monitor.url}${path}`);
      assert.ok(res.status === 200 || res.status === 401, `${path}: ${res.status} ${res.body}`);
      if (res.status === 200) open.push(path);
    }
    assert.deepEqual(open.sort(), ['/api/health', '/api/system-info']);
    const publicRows = describeMonitorRoutes().filter((row) => row.guard === 'PUBLIC' && HOST_PATHS.includes(row.path));
    assert.deepEqual(publicRows.map((row) => row.path).sort(), open, 'the rows the table marks PUBLIC are what is open');
  });

  it('with a session every host path answers 200', async () => {
    const setup = await request(`${monitor.url}/api/auth/setup`, { method: 'POST', json: { username: 'operator', password: 'Operator-pass-2026', setup_code: monitor.setupCode() } });
    assert.equal(setup.status, 200, setup.body);
    const authorization = `Bearer ${setup.json<{ token: string }>().token}`;
    for (const path of HOST_PATHS) assert.equal((await request(`${monitor.url}${path}`, { headers: { authorization } })).status, 200, path);
  });
});

describe('host routes on this machine', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    server = await serve();
  });
  after(() => server.close());

  it('every path answers 200 and nothing may cache it', async () => {
    for (const path of HOST_PATHS) {
      const res = await request(`${server.base}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers['cache-control'], 'no-store', path);
    }
  });

  it('GET /api/system-info: hostname, uptime and a health word, nothing else', async () => {
    const res = await request(`${server.base}/api/system-info`);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/);
    const body = res.json<Record<string, unknown>>();
    assert.deepEqual(Object.keys(body).sort(), ['health', 'hostname', 'timestamp', 'uptime', 'uptime_seconds']);
    assert.equal(body['hostname'], hostname());
    assert.match(String(body['uptime']), /^\d+d \d+h \d+m$/);
    assert.ok(!Number.isNaN(Date.parse(String(body['timestamp']))));
  });

  it('GET /api/health: healthy, a timestamp and the package version', async () => {
    const body = (await request(`${server.base}/api/health`)).json<Record<string, unknown>>();
    assert.equal(body['status'], 'healthy');
    assert.equal(body['version'], packageJson.version);
    assert.ok(!Number.isNaN(Date.parse(String(body['timestamp']))));
  });

  it('GET /api/system: CPU, load, memory (as free), swap, uptime, kernel', async () => {
    const body = (await request(`${server.base}/api/system`)).json<{
      hostname: string;
      cpu: { usage_percent: number; cores: number; model: string };
      load: number[];
      memory: Record<string, number>;
      swap: Record<string, number>;
      uptime_seconds: number;
      kernel: string;
    }>();
    assert.equal(body.hostname, hostname());
    assert.ok(body.cpu.usage_percent >= 0 && body.cpu.usage_percent <= 100 && body.cpu.cores >= 1);
    assert.equal(body.load.length, 3);
    assert.deepEqual(Object.keys(body.memory).sort(), ['available', 'buffers', 'cached', 'free', 'total', 'usage_percent', 'used']);
    assert.deepEqual(Object.keys(body.swap).sort(), ['free', 'total', 'used']);
    assert.equal(body.memory['total'], (await free()).mem.total);
    assert.ok(body.uptime_seconds > 0 && body.kernel.length > 0);
  });

  it('GET /api/storage: the filesystems df shows, with df\'s sizes', async () => {
    const { filesystems } = (await request(`${server.base}/api/storage`)).json<{ filesystems: { mountpoint: string; total: number }[] }>();
    const rows = await df();
    assert.ok(filesystems.some((f) => f.mountpoint === '/'));
    for (const fs of filesystems) assert.equal(fs.total, rows.get(fs.mountpoint)?.size, fs.mountpoint);
  });

  it('GET /api/network: interfaces with counters, rates and addresses', async () => {
    const body = (await request(`${server.base}/api/network`)).json<{
      interval_seconds: number;
      interfaces: { name: string; rx: Record<string, number>; tx: Record<string, number>; addresses: { address: string }[] }[];
    }>();
    assert.ok(body.interval_seconds > 0);
    const lo = body.interfaces.find((i) => i.name === 'lo');
    assert.ok(lo);
    assert.deepEqual(Object.keys(lo.rx).sort(), ['bytes', 'bytes_per_second', 'drops', 'errors', 'packets']);
    assert.ok((lo.rx['bytes'] ?? 0) > 0, 'this very test has used loopback');
    assert.ok(lo.addresses.some((a) => a.address === '127.0.0.1'));
  });

  it('GET /api/prometheus: the registry\'s text format and content type', async () => {
    const res = await request(`${server.base}/api/prometheus`);
    assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(res.body, /^# HELP gatehouse_monitor_/m);
    assert.match(res.body, /^gatehouse_monitor_memory_bytes\{kind="total"\} \d+$/m);
    assert.match(res.body, /^gatehouse_monitor_network_bytes_total\{interface="lo",direction="receive"\} \d+$/m);
  });
});

describe('the public health figure is cached, since anyone may ask for it', () => {
  let proc: { dir: string; cleanup: () => Promise<void> };
  let server: Awaited<ReturnType<typeof serve>>;
  const clock = makeClock();
  const meminfo = (availableKb: number) => writeFile(join(proc.dir, 'meminfo'), `MemTotal: 1000000 kB\nMemFree: 10000 kB\nMemAvailable: ${availableKb} kB\n`);

  before(async () => {
    proc = await makeTempDir('gatehouse-proc-');
    await mkdir(join(proc.dir, 'self'));
    await writeFile(join(proc.dir, 'self', 'mounts'), '');
    server = await serve({ procRoot: proc.dir, now: clock.now, healthCacheMs: 30_000 });
  });
  after(async () => {
    await server.close();
    await proc.cleanup();
  });

  it('a change shows once the cache time has passed, not before', async () => {
    const health = async () => (await request(`${server.base}/api/system-info`)).json<{ health: { status: string; summary: string } }>().health;
    await meminfo(50_000); // 95% used
    assert.deepEqual(await health(), { status: 'warning', summary: 'memory use above 90%' });
    await meminfo(900_000);
    clock.advance(29_000);
    assert.equal((await health()).status, 'warning', 'still the cached figure');
    clock.advance(1_000);
    assert.deepEqual(await health(), { status: 'healthy', summary: 'All systems operational' });
  });
});

describe('a failed read answers 500 without the reason', () => {
  let proc: { dir: string; cleanup: () => Promise<void> };
  let server: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    proc = await makeTempDir('gatehouse-empty-proc-');
    server = await serve({ procRoot: proc.dir });
  });
  after(async () => {
    await server.close();
    await proc.cleanup();
  });

  it('each data route gives a JSON 500 naming no file or error, and the log has the cause', async () => {
    for (const path of ['/api/system-info', '/api/system', '/api/storage', '/api/network', '/api/prometheus']) {
      const res = await request(`${server.base}${path}`);
      assert.equal(res.status, 500, path);
      assert.deepEqual(res.json(), { error: 'host_data_unavailable', message: 'Host data could not be read.' }, path);
      assert.doesNotMatch(res.body, /ENOENT|meminfo|stat|gatehouse-empty-proc/);
    }
    const errors = server.logs.records.filter((r) => r.level === LEVEL.error);
    assert.ok(errors.length >= 5);
    assert.match(JSON.stringify(errors[0]), /ENOENT/);
  });

  it('/api/health still answers: it reads nothing', async () => {
    const res = await request(`${server.base}/api/health`);
    assert.equal(res.status, 200);
    assert.equal(res.json<{ status: string }>().status, 'healthy');
  });
});
