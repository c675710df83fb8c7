// A URL option written with credentials in it (`https://admin:pw@auth.example.com/`) is refused or
// questioned, and the message repeated the URL whole: the password went to stderr and the journal.
// Every URL a configuration problem repeats has its user info blanked.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sessionProblems } from '../../gateway/config/validate/session.ts';
import { serverProblems } from '../../gateway/config/validate/server.ts';
import { validateMonitorConfig } from '../../monitor/config/validate.ts';
import { monitorConfigSchema } from '../../monitor/config/schema.ts';
import { withoutUserInfo } from '../../lib/net/user-info.ts';
import { parsed } from '../unit/config/validate/parsed.ts';
import { makeConfigDir, MINIMAL_CONFIG, type ConfigDir } from '../unit/config/config-files.ts';

const PASSWORD = 'Hunter2Secret';

describe('a URL a problem repeats has its user info blanked', () => {
  it('session.cookies[].authelia_url with credentials: refused, and shown as https://***@…', () => {
    const found = sessionProblems(parsed({ session: { cookies: [{ domain: 'example.com', authelia_url: `https://admin:${PASSWORD}@auth.example.com/` }] } }).session);
    assert.deepEqual(found.map((p) => [p.path, p.message]), [
      ['session.cookies[0].authelia_url', "'https://***@auth.example.com/' must not carry credentials, a query or a fragment"],
    ]);
  });

  it('plain http with credentials, a redirection URL that is not absolute', () => {
    const found = sessionProblems(parsed({
      session: { cookies: [{ domain: 'example.com', authelia_url: `http://admin:${PASSWORD}@auth.example.com/`, default_redirection_url: `//admin:${PASSWORD}@example.com/` }] },
    }).session);
    for (const { message } of found) assert.ok(!message.includes(PASSWORD), message);
    assert.ok(found.some((p) => p.message === "'http://***@auth.example.com/' must use https (plain http is accepted only for localhost)"), JSON.stringify(found));
    assert.ok(found.some((p) => p.path === 'session.cookies[0].default_redirection_url' && p.message.startsWith("'//***@example.com/' is not an absolute URL")), JSON.stringify(found));
  });

  it('server.upstreams', () => {
    const found = serverProblems(parsed({ server: { upstreams: { default: `ftp://backup:${PASSWORD}@files.internal/` } } }).server);
    assert.deepEqual(found.map((p) => p.message), ["'ftp://***@files.internal/' must be an http:// or https:// URL"]);
  });

  it("the monitor's remote_user.assertion.jwks_url", () => {
    const config = monitorConfigSchema.parse({
      trusted_proxies: ['127.0.0.1/32'],
      remote_user: { assertion: { jwks_url: `http://gw:${PASSWORD}@gateway.internal/.well-known/jwks.json`, audience: 'monitor' } },
    });
    const found = validateMonitorConfig(config).filter((p) => p.path === 'remote_user.assertion.jwks_url');
    assert.deepEqual(found.map((p) => p.message), ["'http://***@gateway.internal/.well-known/jwks.json' must be https (plain http only on loopback)"]);
  });
});

describe('through the loader, as the operator reads it', () => {
  let t: ConfigDir;
  before(async () => {
    t = await makeConfigDir();
  });
  after(() => t.cleanup());

  it('no problem line holds the password', async () => {
    const file = await t.write('url-credentials.yml', MINIMAL_CONFIG.replace('https://auth.example.com', `https://admin:${PASSWORD}@auth.example.com/`));
    const problems = t.problems([file]);
    assert.deepEqual(problems, ["config: session.cookies[0].authelia_url: 'https://***@auth.example.com/' must not carry credentials, a query or a fragment"]);
  });
});

describe('withoutUserInfo: the user info ends at the last @ before the path', () => {
  for (const [input, output] of [
    ['https://auth.example.com/', 'https://auth.example.com/'],
    ['https://a:b@c@auth.example.com/x@y', 'https://***@auth.example.com/x@y'],
    ['https:admin:pw@auth.example.com', '***@auth.example.com'],
    ['HTTPS://u@h', 'HTTPS://***@h'],
    ['https://h/path?mail=a@b', 'https://h/path?mail=a@b'],
    ['file:///srv', 'file:///srv'],
    ['redis://:pw@127.0.0.1', 'redis://***@127.0.0.1'],
    [':pw@127.0.0.1', '***@127.0.0.1'],
    ['admin:pw@example.com', '***@example.com'],
    ['//admin:pw@example.com/', '//***@example.com/'],
  ] as const) {
    it(`${input} → ${output}`, () => assert.equal(withoutUserInfo(input), output));
  }
});
