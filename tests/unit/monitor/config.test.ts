import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderProblem } from '../../../lib/config-problems.ts';
import { readFile } from 'node:fs/promises';
import { loadMonitorConfig, parseMonitorConfig } from '../../../monitor/config/load.ts';
import { validateMonitorConfig } from '../../../monitor/config/validate.ts';
import { monitorJsonSchema } from '../../../monitor/config/schema.ts';
import { repoPath } from '../../helpers/repo.ts';

describe('monitor configuration', () => {
  it('config/monitor.schema.json is what the schema generates (run `gatehouse monitor schema --output config/monitor.schema.json`)', async () => {
    assert.deepEqual(JSON.parse(await readFile(repoPath('config', 'monitor.schema.json'), 'utf8')), monitorJsonSchema());
  });

  it('the annotated example loads without problems or warnings', () => {
    const { config, warnings } = loadMonitorConfig({ files: [repoPath('config', 'monitor.yml')], env: {} });
    assert.deepEqual(warnings, []);
    assert.equal(config.remote_user.group_scopes['admins'], 'full_admin');
  });

  it('every problem at once, each naming its option; unknown keys are errors', () => {
    try {
      parseMonitorConfig({ server: { address: 'nowhere' }, trusted_proxies: ['10.0.0.0/33'], terminal: { max_sessions: -1 }, remote_users: {} });
      assert.fail('expected a ConfigError');
    } catch (error) {
      const problems = (error as { problems: string[] }).problems;
      assert.ok(problems.some((p) => p.startsWith('config: remote_users: unknown key')), problems.join('\n'));
      assert.ok(problems.some((p) => p.startsWith('config: terminal.max_sessions:')), problems.join('\n'));
      assert.ok(problems.some((p) => p.startsWith("config: trusted_proxies[0]: '10.0.0.0/33'")), problems.join('\n'));
      assert.ok(problems.some((p) => p.startsWith("config: server.address: 'nowhere'")), problems.join('\n'));
    }
  });

  it('GATEHOUSE_MONITOR_* overrides the file, and weaker settings are warned about', () => {
    const { config, warnings } = loadMonitorConfig({
      files: [repoPath('config', 'monitor.yml')],
      env: { GATEHOUSE_MONITOR_SERVER_ADDRESS: 'tcp://:8118', GATEHOUSE_MONITOR_TERMINAL_ALLOW_ROOT: 'true', GATEHOUSE_MONITOR_REMOTE_USER_DEFAULT_SCOPE: 'full_admin' },
    });
    assert.equal(config.server.address, 'tcp://:8118');
    const lines = warnings.map(renderProblem);
    assert.ok(lines.some((w) => w.startsWith('config: terminal.allow_root: is true')), lines.join('\n'));
    assert.ok(lines.some((w) => w.startsWith('config: remote_user.default_scope: is full_admin')), lines.join('\n'));
  });
});

describe("the monitor's checks return problems as data, in the gateway's grammar", () => {
  it('an error and a warning, each at the option it names', () => {
    const { config } = parseMonitorConfig({});
    const found = validateMonitorConfig({ ...config, trusted_proxies: ['0.0.0.0/0', 'proxy'], terminal: { ...config.terminal, refresh_interval: 1 } });
    assert.deepEqual(found.filter((p) => p.path.startsWith('trusted_proxies') || p.path.startsWith('terminal')), [
      { path: 'trusted_proxies[0]', message: "'0.0.0.0/0' is every address: anyone can claim any identity with a Remote-User header", severity: 'warning' },
      { path: 'trusted_proxies[1]', message: "'proxy' is not an IP address or CIDR range", severity: 'error' },
      { path: 'terminal.refresh_interval', message: '1s is too short: at least 3s (the dashboard re-confirms every third of it)', severity: 'error' },
    ]);
    assert.deepEqual(found.map(renderProblem).slice(0, 1), ["config: trusted_proxies[0]: '0.0.0.0/0' is every address: anyone can claim any identity with a Remote-User header"]);
  });
});

describe("the monitor's address takes no path (it would be ignored)", () => {
  it('a path after the port is an error at server.address', () => {
    const { config } = parseMonitorConfig({});
    assert.deepEqual(validateMonitorConfig({ ...config, server: { ...config.server, address: 'tcp://127.0.0.1:8008/monitor' } }).filter((p) => p.path === 'server.address'), [
      { path: 'server.address', message: "'tcp://127.0.0.1:8008/monitor' must look like 'tcp://127.0.0.1:8008' or 'tcp://:8008' (the monitor takes no path)", severity: 'error' },
    ]);
  });
});
