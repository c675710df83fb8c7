// Item 4: the shipped config/monitor.yml let any local process become full_admin with a Remote-User
// header (trusted_proxies 127.0.0.1, group admins → full_admin, no signed assertion). The example now
// requires the gateway's assertion, and any configuration where trusted Remote-* headers alone can
// grant full_admin is warned about at startup.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderProblem } from '../../lib/config-problems.ts';
import { PassThrough } from 'node:stream';
import { startMonitor, type Monitor } from '../../monitor/app.ts';
import { loadMonitorConfig, parseMonitorConfig } from '../../monitor/config/load.ts';
import { runMonitor } from '../../monitor/main.ts';
import { captureLogs } from '../helpers/logs.ts';
import { request } from '../helpers/http.ts';
import { repoPath } from '../helpers/repo.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const HEADERS_ALONE = /^config: remote_user\.assertion: INSECURE: is not set, so a Remote-User header alone is believed/;

/** The monitor's configuration warnings as the operator reads them. */
const warningLines = (raw: Record<string, unknown>) => parseMonitorConfig(raw).warnings.map(renderProblem);

describe('the shipped config/monitor.yml requires the gateway assertion', () => {
  let monitor: Monitor;
  let cleanup: () => Promise<void>;

  before(async () => {
    const temp = await makeTempDir('gatehouse-example-monitor-');
    cleanup = temp.cleanup;
    const { config } = loadMonitorConfig({
      files: [repoPath('config', 'monitor.yml')],
      env: { GATEHOUSE_MONITOR_SERVER_ADDRESS: 'tcp://127.0.0.1:0', GATEHOUSE_MONITOR_DATA_DIR: temp.dir },
    });
    monitor = await startMonitor(config, { logger: captureLogs().logger });
  });
  after(async () => {
    await monitor?.close();
    await cleanup?.();
  });

  it('loads with remote_user.assertion set and no warning', () => {
    const { config, warnings } = loadMonitorConfig({ files: [repoPath('config', 'monitor.yml')], env: {} });
    assert.equal(config.remote_user.assertion?.audience, 'monitor');
    assert.equal(config.remote_user.assertion?.header, 'Remote-Assertion');
    assert.deepEqual(warnings, []);
  });

  it('a local process sending Remote-User: admin and Remote-Groups: admins gets 401, not full_admin', async () => {
    const forged = await request(`${monitor.url}/api/terminal/ticket`, {
      method: 'POST',
      json: {},
      headers: { 'remote-user': 'admin', 'remote-groups': 'admins', 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(forged.status, 401, forged.body);
    const status = await request(`${monitor.url}/api/auth/status`, { headers: { 'remote-user': 'admin', 'remote-groups': 'admins' } });
    assert.notEqual(status.json<{ scope?: string }>().scope, 'full_admin');
  });
});

describe('trusted Remote-* headers without the assertion that can grant full_admin are warned about', () => {
  const base = { trusted_proxies: ['127.0.0.1/32'] };

  it('a group mapped to full_admin, no assertion: the warning names the groups and what to set', () => {
    const warnings = warningLines({ ...base, remote_user: { group_scopes: { admins: 'full_admin', ops: 'read_only' } } });
    const warning = warnings.find((w) => HEADERS_ALONE.test(w));
    assert.ok(warning, warnings.join('\n'));
    assert.match(warning, /127\.0\.0\.1\/32/);
    assert.match(warning, /Remote-Groups: admins\b/);
    assert.match(warning, /Set remote_user\.assertion/);
  });

  it('default_scope full_admin without the assertion warns too', () => {
    const warnings = warningLines({ ...base, remote_user: { default_scope: 'full_admin' } });
    assert.ok(warnings.some((w) => HEADERS_ALONE.test(w) && w.includes('remote_user.default_scope')), warnings.join('\n'));
  });

  it('no warning when the headers cannot reach full_admin: assertion set, no trusted proxy, or read_only mappings only', () => {
    const assertion = { jwks_url: 'http://127.0.0.1:9091/jwks.json', audience: 'monitor' };
    for (const raw of [
      { ...base, remote_user: { group_scopes: { admins: 'full_admin' }, assertion } },
      { trusted_proxies: [], remote_user: { group_scopes: { admins: 'full_admin' } } },
      { ...base, remote_user: { group_scopes: { ops: 'read_only' } } },
    ]) {
      assert.ok(!warningLines(raw).some((w) => HEADERS_ALONE.test(w)), JSON.stringify(raw));
    }
  });

  it('the monitor says it at startup, at warn level, in its log', async () => {
    const temp = await makeTempDir('gatehouse-headers-alone-');
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    const raw = { ...base, server: { address: 'tcp://127.0.0.1:0' }, data_dir: temp.dir, remote_user: { group_scopes: { admins: 'full_admin' } } };
    const { config, warnings } = parseMonitorConfig(raw);
    const monitor = await runMonitor({ config, warnings, files: [], credentialFiles: [] }, out);
    try {
      const lines = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { level: number; msg: string });
      assert.ok(lines.some((l) => l.level >= 40 && /^config: remote_user\.assertion: INSECURE: is not set/.test(l.msg)), text);
    } finally {
      await monitor.close();
      await temp.cleanup();
    }
  });
});
