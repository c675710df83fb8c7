/** Values written as Authelia reads them: refresh_interval's words, an empty server.tls, sub-second durations. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { renderProblem } from '../../../lib/config-problems.ts';
import { makeConfigDir, MINIMAL_CONFIG, type ConfigDir } from './config-files.ts';

let t: ConfigDir;
let minimal: string;
before(async () => {
  t = await makeConfigDir();
  minimal = await t.write('minimal.yml', MINIMAL_CONFIG);
});
after(() => t.cleanup());

async function write(name: string, yaml: string): Promise<string[]> {
  return [minimal, await t.write(name, yaml)];
}

describe('authentication_backend.refresh_interval: always | disable | <duration>, as Authelia', () => {
  const table: [string, unknown][] = [['always', 'always'], ['disable', 'disable'], ['1m30s', 90], ["'2 minutes'", 120], ['1500ms', 2], ['45', 45]];
  for (const [written, read] of table) {
    it(`${written} is read as ${JSON.stringify(read)}`, async () => {
      const { config, warnings } = t.load(await write(`refresh-${read}.yml`, `authentication_backend:\n  refresh_interval: ${written}\n`));
      assert.equal(config.authentication_backend.refresh_interval, read);
      assert.deepEqual(warnings, []);
    });
  }

  it('anything else is an error', async () => {
    const problems = t.problems(await write('refresh-bad.yml', 'authentication_backend:\n  refresh_interval: sometimes\n'));
    assert.deepEqual(problems.length, 1);
    assert.match(problems[0]!, /^config: authentication_backend\.refresh_interval: /);
  });
});

describe("an empty server.tls (key: '', certificate: '', as Authelia's template writes it) means no TLS", () => {
  it('loads with no TLS and no warning', async () => {
    const { config, warnings } = t.load(await write('tls-empty.yml', "server:\n  tls:\n    key: ''\n    certificate: ''\n"));
    assert.equal(config.server.tls, undefined);
    assert.deepEqual(warnings.map(renderProblem), []);
  });

  it('an empty block with nothing in it too', async () => {
    assert.equal(t.load(await write('tls-bare.yml', 'server:\n  tls: {}\n')).config.server.tls, undefined);
  });

  it('both set is TLS', async () => {
    const { config } = t.load(await write('tls-set.yml', 'server:\n  tls:\n    key: /k.pem\n    certificate: /c.pem\n'));
    assert.deepEqual(config.server.tls, { key: '/k.pem', certificate: '/c.pem' });
  });

  it('one without the other is an error, never a plain-HTTP start', async () => {
    assert.deepEqual(t.problems(await write('tls-half.yml', "server:\n  tls:\n    key: /k.pem\n    certificate: ''\n")), [
      "config: server.tls: set both 'certificate' and 'key' (or leave both empty for no TLS)",
    ]);
  });

  it('client_certificates (mutual TLS, which narrows who may connect) is refused, not ignored', async () => {
    const problems = t.problems(await write('tls-mtls.yml', 'server:\n  tls:\n    key: /k.pem\n    certificate: /c.pem\n    client_certificates: [/ca.pem]\n'));
    assert.deepEqual(problems, ["config: server.tls: 'client_certificates' (mutual TLS) is not implemented by Gatehouse; remove it, or leave TLS to the proxy in front"]);
  });
});
