import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { configError, configWarning, formatPath, pathWithin, renderProblem } from '../../../lib/config-problems.ts';
import { ConfigError } from '../../../lib/errors.ts';
import { makeConfigDir, MINIMAL_CONFIG, type ConfigDir } from './config-files.ts';

describe('a configuration problem is rendered in one grammar: config: <path>: <message>', () => {
  it('errors and warnings alike', () => {
    assert.equal(renderProblem(configError('access_control.rules[2].domain', "must not contain an empty value")), "config: access_control.rules[2].domain: must not contain an empty value");
    assert.equal(renderProblem(configWarning('regulation.max_retries', 'is 0: brute-force protection is disabled')), 'config: regulation.max_retries: is 0: brute-force protection is disabled');
  });

  it('paths count list entries from 0 and join keys with dots', () => {
    assert.equal(formatPath(['access_control', 'rules', 2, 'domain']), 'access_control.rules[2].domain');
    assert.equal(formatPath([]), '(root)');
    assert.ok(pathWithin('session.cookies[1].domain', 'session.cookies'));
    assert.ok(pathWithin('session.cookies', 'session.cookies'));
    assert.ok(!pathWithin('session.cookies_extra', 'session.cookies'));
  });
});

describe('ConfigError carries its problems as data and as the lines the operator reads', () => {
  it('each problem as a line, in order; the structured ones as data', () => {
    const problem = configError('storage', "set one of 'local' and 'postgres', not both");
    const error = new ConfigError([problem, "regulation: option 'modes' must list at least one of 'user' and 'ip'"]);
    assert.equal(error.code, 'config_invalid');
    assert.deepEqual(error.problems, ["config: storage: set one of 'local' and 'postgres', not both", "regulation: option 'modes' must list at least one of 'user' and 'ip'"]);
    assert.deepEqual(error.details, [problem]);
    assert.equal(error.message, error.problems.join('\n'));
  });

  describe('from the loader', () => {
    let t: ConfigDir;
    before(async () => {
      t = await makeConfigDir();
    });
    after(() => t.cleanup());

    it('a caller can branch on the path and severity, not on the text', async () => {
      const file = await t.write('two-problems.yml', `${MINIMAL_CONFIG}\nregulation:\n  max_retries: many\nserver:\n  address: nowhere\n`);
      try {
        t.load([file]);
        assert.fail('expected a ConfigError');
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.details.map(({ path, severity }) => ({ path, severity })), [
          { path: 'regulation.max_retries', severity: 'error' },
          { path: 'server.address', severity: 'error' },
        ]);
        assert.deepEqual(error.problems, error.details.map(renderProblem));
      }
    });

    it('warnings come back as data too, at the path they name', async () => {
      const file = await t.write('one-warning.yml', `${MINIMAL_CONFIG}\nregulation:\n  max_retries: 0\n`);
      assert.deepEqual(t.load([file]).warnings, [configWarning('regulation.max_retries', 'is 0: brute-force protection is disabled')]);
    });
  });
});
