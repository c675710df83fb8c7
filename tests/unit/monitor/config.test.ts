import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderProblem } from '../../../lib/config-problems.ts';
import { readFile } from 'node:fs/promises';
import { loadMonitorConfig, parseMonitorConfig } from '../../../monitor/config/load.ts';
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
