/**
 * The Homepage and Home Assistant recipes written for ProxMenux Monitor, replayed against this
 * monitor's route table with a read_only API token: the same URLs, the same Authorization header,
 * and every field their mappings and templates read, with the unit the recipe labels it in.
 * Recipes: ProxMenux's web docs (docs/monitor/integrations) and its AppImage README.
 * The host is a fixture /proc and /sys, so the figures are known.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname, release } from 'node:os';
import { join } from 'node:path';
import { makeTempDir } from '../helpers/tmp.ts';
import { makeApiToken, startAuthServer, type AuthServer } from './monitor-auth-harness.ts';

const GiB = 1024 ** 3;

async function put(root: string, path: string, text: string): Promise<void> {
  await mkdir(join(root, path, '..'), { recursive: true });
  await writeFile(join(root, path), text);
}

/** A two-socket host: 4 logical CPUs on 2 physical cores each; 16 GiB with 6 GiB available. */
async function fixtureHost(dir: string, mountpoint: string): Promise<{ proc: string; sys: string }> {
  const proc = join(dir, 'proc');
  const sys = join(dir, 'sys');
  const cpu = (n: number, socket: number, core: number) => `processor\t: ${n}\nphysical id\t: ${socket}\ncore id\t\t: ${core}\n`;
  await put(proc, 'cpuinfo', [cpu(0, 0, 0), cpu(1, 0, 0), cpu(2, 1, 0), cpu(3, 1, 0)].join('\n'));
  await put(proc, 'stat', 'cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 25 0 25 200 0 0 0 0 0 0\n');
  await put(proc, 'meminfo', `MemTotal: ${16 * 1024 * 1024} kB\nMemFree: ${2 * 1024 * 1024} kB\nMemAvailable: ${6 * 1024 * 1024} kB\nBuffers: ${512 * 1024} kB\nCached: ${1024 * 1024} kB\nSReclaimable: ${512 * 1024} kB\n`);
  const dev = (name: string, rx: number, rxp: number, tx: number, txp: number) => `${name}: ${rx} ${rxp} 0 0 0 0 0 0 ${tx} ${txp} 0 0 0 0 0 0`;
  await put(
    proc,
    'net/dev',
    ['Inter-|   Receive', ' face |bytes', dev('lo', 1000, 10, 1000, 10), dev('enp3s0', 5000, 50, 3000, 30), dev('vmbr0', 4000, 40, 2000, 20), dev('tap100i0', 700, 7, 600, 6), dev('eno2', 0, 0, 0, 0)].join('\n') + '\n',
  );
  await put(proc, 'self/mounts', `/dev/sda1 ${mountpoint} ext4 rw 0 0\ntmpfs /run tmpfs rw 0 0\n`);
  // sensors: an ACPI zone listed first, then the CPU's own chip, which ProxMenux prefers
  await put(sys, 'class/hwmon/hwmon0/name', 'acpitz\n');
  await put(sys, 'class/hwmon/hwmon0/temp1_input', '27800\n');
  await put(sys, 'class/hwmon/hwmon1/name', 'coretemp\n');
  await put(sys, 'class/hwmon/hwmon1/temp1_input', '48500\n');
  await put(sys, 'class/hwmon/hwmon1/temp2_input', '51000\n');
  // disks: a 2 TiB spinning disk and a 512 GiB SSD; a loop device and a zvol are no disks
  await put(sys, 'block/sda/size', String((2 * 1024 ** 4) / 512));
  await put(sys, 'block/sda/queue/rotational', '1');
  await put(sys, 'block/sda/device/model', 'WDC WD20EFRX   \n');
  await put(sys, 'block/nvme0n1/size', String((512 * GiB) / 512));
  await put(sys, 'block/nvme0n1/queue/rotational', '0');
  await put(sys, 'block/loop0/size', '2048');
  await put(sys, 'block/zd0/size', '2048');
  // interfaces: enp3s0 physical and up, eno2 physical and down, vmbr0 a bridge and up
  await put(sys, 'class/net/enp3s0/flags', '0x1003');
  await put(sys, 'class/net/enp3s0/device/vendor', '0x8086');
  await put(sys, 'class/net/eno2/flags', '0x1002');
  await put(sys, 'class/net/vmbr0/flags', '0x1003');
  await put(sys, 'class/net/vmbr0/bridge/stp_state', '0');
  return { proc, sys };
}

/** Homepage's customapi field paths: `a.b`, `a[0].b`. */
function field(data: unknown, path: string): unknown {
  return path.split(/\.|\[(\d+)\]/).filter((p) => p !== undefined && p !== '').reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], data);
}

describe('ProxMenux integrations, replayed with a read_only API token', () => {
  let server: AuthServer;
  let temp: { dir: string; cleanup: () => Promise<void> };
  let headers: { authorization: string };
  const get = async (path: string) => {
    const reply = await server.send(path, { headers });
    assert.equal(reply.status, 200, `${path}: ${reply.body}`);
    assert.match(String(reply.headers['content-type']), /^application\/json/);
    return reply.json;
  };

  before(async () => {
    temp = await makeTempDir('gatehouse-proxmenux-host-');
    const mountpoint = join(temp.dir, 'data');
    await mkdir(mountpoint);
    const { proc, sys } = await fixtureHost(temp.dir, mountpoint);
    server = await startAuthServer({ host: { procRoot: proc, sysRoot: sys } });
    const session = await server.setup();
    // Homepage's services.yaml: `Authorization: Bearer <token>`; Home Assistant's secrets.yaml: "Bearer <token>"
    headers = { authorization: `Bearer ${await makeApiToken(server, session, 'read_only')}` };
  });
  after(async () => {
    await server.close();
    await temp.cleanup();
  });

  it('the summaries are READ rows: anonymous callers get 401', async () => {
    for (const path of ['/api/system', '/api/storage/summary', '/api/network/summary']) assert.equal((await server.send(path)).status, 401, path);
  });

  it('Homepage, /api/system: uptime (text), cpu_usage and memory_usage (percent), temperature (number, °C)', async () => {
    const data = await get('/api/system');
    assert.equal(typeof field(data, 'uptime'), 'number');
    assert.ok(Number.isInteger(data.uptime) && data.uptime >= 0);
    assert.equal(field(data, 'cpu_usage'), data.cpu.usage_percent);
    assert.equal(field(data, 'memory_usage'), 62.5); // 10 of 16 GiB used
    assert.equal(field(data, 'temperature'), 48.5, "coretemp's first input, before acpitz");
  });

  it('Home Assistant, /api/system: every value_template and json_attribute the recipes read', async () => {
    const data = await get('/api/system');
    assert.equal(data.memory_used, 10);
    assert.equal(data.memory_total, 16);
    assert.equal(data.memory_cached, 2); // buffers + cached + reclaimable slab
    assert.equal(data.load_average.length, 3);
    for (const load of data.load_average) assert.equal(typeof load, 'number');
    assert.equal(data.hostname, hostname());
    assert.equal(data.kernel_version, release());
    assert.equal(data.cpu_cores, 2, 'physical cores: distinct (physical id, core id)');
    assert.equal(data.cpu_threads, data.cpu.cores);
    assert.ok(!Number.isNaN(Date.parse(data.timestamp)));
    // the README's uptime template: `value_json.uptime | int` then days/hours/minutes
    assert.equal(Math.trunc(data.uptime), data.uptime_seconds);
    // this monitor's own shape is still there
    assert.equal(typeof data.memory.total, 'number');
    assert.equal(data.memory.total, 16 * GiB);
  });

  it('/api/storage/summary: the web docs\' total (TB), used and available (GB), disk_count', async () => {
    const data = await get('/api/storage/summary');
    assert.equal(data.total, 2.5); // 2 TiB + 0.5 TiB
    assert.equal(data.disk_count, 2, 'loop and zvol devices are no disks');
    assert.equal(typeof data.used, 'number');
    assert.equal(typeof data.available, 'number');
    assert.equal(data.used, Math.round((data.used_space / GiB) * 10) / 10);
    assert.equal(data.available, Math.round((data.free_space / GiB) * 10) / 10);
  });

  it("/api/storage/summary: the README's usage_percentage (percent), used_space (bytes), disks", async () => {
    const data = await get('/api/storage/summary');
    assert.ok(data.used_space > 0, 'the fixture mount is a real directory with something on its filesystem');
    assert.equal(data.total_capacity, data.used_space + data.free_space);
    assert.equal(data.usage_percentage, Math.round((data.used_space / data.total_capacity) * 1000) / 10);
    assert.deepEqual(data.disks, [
      { device: '/dev/nvme0n1', model: 'unknown', size: '512.00 GB', type: 'SSD' },
      { device: '/dev/sda', model: 'WDC WD20EFRX', size: '2048.00 GB', type: 'HDD' },
    ]);
  });

  it('/api/network/summary: the web docs\' traffic.bytes_recv/bytes_sent (bytes), NIC and bridge counts', async () => {
    const data = await get('/api/network/summary');
    // every interface of /proc/net/dev, loopback and taps included, as ProxMenux's psutil sum
    assert.equal(field(data, 'traffic.bytes_recv'), 1000 + 5000 + 4000 + 700);
    assert.equal(field(data, 'traffic.bytes_sent'), 1000 + 3000 + 2000 + 600);
    assert.equal(field(data, 'traffic.packets_recv'), 107);
    assert.equal(field(data, 'physical_active_count'), 1);
    assert.equal(data.physical_total_count, 2);
    assert.equal(data.bridge_active_count, 1);
    assert.equal(data.bridge_total_count, 1);
    assert.deepEqual(data.physical_interfaces.map((i: { name: string; status: string }) => [i.name, i.status]), [['enp3s0', 'up']]);
    assert.deepEqual(data.bridge_interfaces.map((i: { name: string }) => i.name), ['vmbr0']);
  });

  it("/api/network/summary: the README's interfaces[0].rx_bytes/tx_bytes (bytes), the bridge first", async () => {
    const data = await get('/api/network/summary');
    assert.equal(field(data, 'interfaces[0].rx_bytes'), 4000);
    assert.equal(field(data, 'interfaces[0].tx_bytes'), 2000);
    assert.deepEqual(
      data.interfaces.map((i: { name: string; state: string }) => [i.name, i.state]),
      [['vmbr0', 'up'], ['enp3s0', 'up'], ['eno2', 'down']],
    );
  });
});
