import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { renderProblem } from '../../../lib/config-problems.ts';
import { makeConfigDir, MINIMAL_CONFIG, type ConfigDir } from './config-files.ts';

let t: ConfigDir;
before(async () => {
  t = await makeConfigDir();
});
after(() => t.cleanup());

/** Each expected problem: the exact `config: <path>: ` prefix, and what the rest must say. */
function assertProblems(problems: string[], expected: [path: string, says: RegExp][]): void {
  const unmatched = [...problems];
  for (const [path, says] of expected) {
    const index = unmatched.findIndex((p) => p.startsWith(`config: ${path}: `) && says.test(p.slice(`config: ${path}: `.length)));
    assert.notEqual(index, -1, `no problem 'config: ${path}: ${says.source}' in:\n${problems.join('\n')}`);
    unmatched.splice(index, 1);
  }
  assert.deepEqual(unmatched, [], 'problems nobody expected');
}

describe('validation reports every problem at once, each as config: <path>: <message>', () => {
  it('schema errors and cross-field errors from one file come out together', async () => {
    const file = await t.write('everything-wrong.yml', `
server:
  address: 9091
  trusted_proxies: [127.0.0.1/32, 10.0.0.0/33]
authentication_backend:
  file:
    path: '{dir}/users.yml'
    pasword: {}
access_control:
  default_policy: one_factor
session:
  expiration: soon
  redis:
    host: redis
  cookies:
    - domain: example.com
      same_sight: lax
    - domain: example.org
      authelia_url: http://auth.example.org
      remember_me: 1x
    - domain: example.net
      authelia_url: https://auth.example.org
    - domain: home.example.net
      authelia_url: https://auth.home.example.net
regulation:
  max_retries: three
  find_time: 1h
  ban_time: 5m
storage:
  encryption_key: too-short
  local:
    path: '{dir}/db.sqlite3'
`);
    assertProblems(t.problems([file]), [
      ['server.address', /^must be a string, not number 9091$/],
      ['authentication_backend.file.pasword', /^unknown key/],
      ['session.cookies[0].same_sight', /^unknown key/],
      ['session.expiration', /^'soon' is not a duration such as '90s', '5m'/],
      ['session.cookies[1].remember_me', /^'1x' is not a duration/],
      ['regulation.max_retries', /^must be a number, not string "three"$/],
      ['server.trusted_proxies[1]', /^'10\.0\.0\.0\/33' is not an IP address or CIDR range$/],
      ['session.cookies[0].authelia_url', /^is required/],
      ['session.cookies[1].authelia_url', /^'http:\/\/auth\.example\.org' must use https \(plain http is accepted only for localhost\)$/],
      ['session.cookies[2].authelia_url', /^the host 'auth\.example\.org' is not 'example\.net' or below it/],
      ['session.cookies', /^'example\.net' and 'home\.example\.net' overlap/],
      ['session.secret', /^is required when session\.redis is set/],
      ['regulation.find_time', /^must be less than or equal to regulation\.ban_time \(3600s > 300s\)$/],
      ['storage.encryption_key', /^must be at least 20 characters; generate one with: gatehouse crypto rand --length 64 --charset alphanumeric \(or put it in a file named by GATEHOUSE_STORAGE_ENCRYPTION_KEY_FILE\)$/],
    ]);
  });

  it('a nested unknown key is named by its full path', async () => {
    const file = await t.write('typo.yml', `${MINIMAL_CONFIG}\nregulation:\n  max_retry: 5\n`);
    assert.deepEqual(t.problems([file]), [
      'config: regulation.max_retry: unknown key; check its spelling against config/gatehouse.schema.json',
    ]);
  });

  it('an unknown section is an error too, not ignored', async () => {
    const file = await t.write('unknown-section.yml', `${MINIMAL_CONFIG}\ntotps:\n  skew: 1\n`);
    assert.deepEqual(t.problems([file]), ['config: totps: unknown key; check its spelling against config/gatehouse.schema.json']);
  });

  it('an empty configuration lists every required section', async () => {
    const file = await t.write('empty-config.yml', '{}\n');
    assertProblems(t.problems([file]), [
      ['authentication_backend.file', /^is required/],
      ['session.cookies', /^is required/],
      ['storage.encryption_key', /^is required/],
      ['storage', /^is required: set storage\.local\.path \(SQLite\), storage\.postgres or storage\.mysql$/],
      ['access_control', /'default_policy' option 'deny' is invalid: when no rules are specified/],
    ]);
  });

  it('a YAML syntax error names the file and line, and the other files are still read', async () => {
    const good = await t.write('good.yml', MINIMAL_CONFIG);
    const broken = await t.write('broken.yml', 'session:\n  name: ok\n  cookies: [\n  - domain: example.com\n');
    const duplicate = await t.write('duplicate.yml', 'log:\n  level: info\nlog:\n  level: debug\n');
    const missing = join(t.dir, 'missing.yml');
    const problems = t.problems([good, broken, duplicate, missing]);
    assert.ok(problems.length >= 3);
    assert.ok(problems.every((p) => p.startsWith('config: ')));
    assert.ok(problems.some((p) => p.startsWith(`config: ${broken}: line 4, column 3: `)), problems.join('\n'));
    assert.ok(problems.includes(`config: ${duplicate}: line 3, column 1: Map keys must be unique`), problems.join('\n'));
    assert.ok(problems.includes(`config: ${missing}: cannot read the file (ENOENT); check the path given to --config`));
    assert.ok(!problems.some((p) => p.includes(good)));
  });

  it('http is accepted for a loopback portal, as browsers treat it as secure', async () => {
    const file = await t.write('localhost.yml', MINIMAL_CONFIG.replace('domain: example.com', 'domain: localhost').replace('https://auth.example.com', 'http://localhost:9091/'));
    const { config } = t.load([file]);
    assert.equal(config.session.cookies[0]?.authelia_url, 'http://localhost:9091/');
  });
});

describe('a bad list entry drops that entry, not its whole list: every problem comes out in one run', () => {
  it('two bad access_control rules and a bad regulation value: three problems, each at its own path', async () => {
    const base = await t.write('rules-base.yml', MINIMAL_CONFIG);
    const rules = await t.write('bad-rules.yml', `
access_control:
  default_policy: deny
  rules:
    - domain: a.example.com
      policy: allow
    - domain: b.example.com
      policy: one_factor
    - domain_regex: '('
      policy: one_factor
regulation:
  max_retries: many
`);
    assertProblems(t.problems([base, rules]), [
      ['access_control.rules[0].policy', /^must be one of 'bypass', 'one_factor', 'two_factor', 'deny'$/],
      ['regulation.max_retries', /^must be a number, not string "many"$/],
      // found on the list without rules[0], and still named by its place in the file
      ['access_control.rules[2].domain_regex', /^value '\(' is not a valid regular expression: /],
    ]);
  });

  it('an entry missing a required option is dropped; the entry after it is still checked under its own index', async () => {
    const file = await t.write('bad-cookie.yml', MINIMAL_CONFIG.replace(
      '    - domain: example.com\n      authelia_url: https://auth.example.com\n',
      '    - authelia_url: https://auth.example.com\n    - domain: example.org\n      authelia_url: http://auth.example.org\n',
    ));
    assertProblems(t.problems([file]), [
      ['session.cookies[0].domain', /^is required$/],
      ['session.cookies[1].authelia_url', /^'http:\/\/auth\.example\.org' must use https/],
    ]);
  });

  it('a map key holding dots keeps its path when a list entry elsewhere was dropped', async () => {
    const file = await t.write('bad-upstream.yml', `${MINIMAL_CONFIG}
server:
  trusted_proxies: [127.0.0.1/32]
  upstreams:
    app.example.com: ftp://app.internal
  endpoints:
    authz:
      forward-auth:
        implementation: ForwardAuth
        authn_strategies:
          - name: Cookie
          - name: CookieSession
            schemes: [Bearer]
`);
    assertProblems(t.problems([file]), [
      ['server.endpoints.authz.forward-auth.authn_strategies[0].name', /^must be one of /],
      ['server.endpoints.authz.forward-auth.authn_strategies[1].schemes', /^is read only by HeaderAuthorization, /],
      ['server.upstreams.app.example.com', /^'ftp:\/\/app\.internal' must be an http:\/\/ or https:\/\/ URL$/],
    ]);
  });
});

describe('a dropped list entry hides only what its absence caused', () => {
  it('two other cookie domains still overlap: that problem above the dropped entry is reported', async () => {
    const file = await t.write('dropped-cookie-overlap.yml', MINIMAL_CONFIG.replace(
      '    - domain: example.com\n      authelia_url: https://auth.example.com\n',
      '    - 42\n    - domain: example.net\n      authelia_url: https://auth.example.net\n    - domain: home.example.net\n      authelia_url: https://auth.home.example.net\n',
    ));
    assertProblems(t.problems([file]), [
      ['session.cookies[0]', /^must be an object, not number 42$/],
      ['session.cookies', /^'example\.net' and 'home\.example\.net' overlap/],
    ]);
  });

  it('the only cookie entry dropped: no "is required" for the list it leaves empty', async () => {
    const file = await t.write('dropped-only-cookie.yml', MINIMAL_CONFIG.replace('    - domain: example.com\n      authelia_url: https://auth.example.com\n', '    - domain: 42\n'));
    assertProblems(t.problems([file]), [
      ['session.cookies[0].domain', /^must be a string, not number 42$/],
    ]);
  });

  it('the only rule dropped: no "when no rules are specified" for default_policy deny', async () => {
    const base = await t.write('dropped-rule-base.yml', MINIMAL_CONFIG);
    const rules = await t.write('dropped-only-rule.yml', 'access_control:\n  default_policy: deny\n  rules:\n    - domain: a.example.com\n      policy: allow\n');
    assertProblems(t.problems([base, rules]), [
      ['access_control.rules[0].policy', /^must be one of /],
    ]);
  });

  it('one of two rules dropped: the rule left is still checked, and nothing is said about the count', async () => {
    const base = await t.write('dropped-rule-of-two-base.yml', MINIMAL_CONFIG);
    const rules = await t.write('dropped-rule-of-two.yml', 'access_control:\n  default_policy: deny\n  rules:\n    - domain: a.example.com\n      policy: allow\n    - domain: ""\n      policy: one_factor\n');
    assertProblems(t.problems([base, rules]), [
      ['access_control.rules[0].policy', /^must be one of /],
      ['access_control.rules[1].domain', /^must not contain an empty value$/],
    ]);
  });
});

describe('weaker-than-default settings load, with a warning that names them', () => {
  it('a sound configuration has no warnings', async () => {
    const file = await t.write('sound.yml', MINIMAL_CONFIG);
    assert.deepEqual(t.load([file]).warnings, []);
  });

  it('regulation.max_retries 0 disables brute-force protection', async () => {
    const file = await t.write('no-regulation.yml', `${MINIMAL_CONFIG}\nregulation:\n  max_retries: 0\n  find_time: 1h\n  ban_time: 5m\n`);
    const { config, warnings } = t.load([file]);
    assert.equal(config.regulation.max_retries, 0);
    assert.deepEqual(warnings.map(renderProblem), ['config: regulation.max_retries: is 0: brute-force protection is disabled']);
  });

  it('server.trusted_proxies 0.0.0.0/0 lets anyone forge X-Forwarded-*', async () => {
    const file = await t.write('any-proxy.yml', `${MINIMAL_CONFIG}\nserver:\n  trusted_proxies: [0.0.0.0/0]\n`);
    const warnings = t.load([file]).warnings.map(renderProblem);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /^config: server\.trusted_proxies\[0\]: '0\.0\.0\.0\/0' is every address: any client can set X-Forwarded-\* headers/);
  });

  it('argon2 memory below the default', async () => {
    const file = await t.write('weak-argon2.yml', MINIMAL_CONFIG.replace(
      "path: '{dir}/users.yml'",
      "path: '{dir}/users.yml'\n    password:\n      argon2:\n        memory: 16384",
    ));
    const { config, warnings } = t.load([file]);
    assert.equal(config.authentication_backend.file?.password.argon2.memory, 16384);
    assert.deepEqual(warnings.map(renderProblem), [
      'config: authentication_backend.file.password.argon2: is weaker than the default (memory 16384 KiB, iterations 3; default 65536 KiB, 3)',
    ]);
  });

  it("access_control.default_policy 'bypass' opens every host no rule names", async () => {
    const file = await t.write('bypass.yml', MINIMAL_CONFIG.replace(
      'default_policy: one_factor',
      'default_policy: bypass\n  rules:\n    - domain: admin.example.com\n      policy: two_factor',
    ));
    assert.deepEqual(t.load([file]).warnings.map(renderProblem), [
      "config: access_control.default_policy: is 'bypass': every host no rule matches is open to anyone",
    ]);
  });

  it('authentication_backend.file.watch false: disabled and deleted users keep access until a reload', async () => {
    const file = await t.write('no-watch.yml', MINIMAL_CONFIG.replace("path: '{dir}/users.yml'", "path: '{dir}/users.yml'\n    watch: false"));
    assert.deepEqual(t.load([file]).warnings.map(renderProblem), [
      'config: authentication_backend.file.watch: is false: edits to the users file apply only after a restart or SIGHUP; until then disabled and deleted users keep their access',
    ]);
  });

  it('authentication_backend.refresh_interval, any value, is accepted silently (the users are always read as loaded)', async () => {
    for (const value of ['never', 'always', '1m']) {
      const file = await t.write(`refresh-${value}.yml`, MINIMAL_CONFIG.replace('authentication_backend:\n', `authentication_backend:\n  refresh_interval: ${value}\n`));
      assert.deepEqual(t.load([file]).warnings, [], value);
    }
  });

  it('inactivity 0 turns the inactivity timeout off, for the session and for one cookie domain', async () => {
    const session = await t.write('no-inactivity.yml', 'session:\n  inactivity: 0\n');
    const base = await t.write('sound-base.yml', MINIMAL_CONFIG);
    assert.deepEqual(t.load([base, session]).warnings.map(renderProblem), ['config: session.inactivity: is 0: sessions never end for inactivity, only at session.expiration']);
    const cookie = await t.write('cookie-no-inactivity.yml', MINIMAL_CONFIG.replace(
      'authelia_url: https://auth.example.com',
      "authelia_url: https://auth.example.com\n      inactivity: '0'",
    ));
    assert.deepEqual(t.load([cookie]).warnings.map(renderProblem), ['config: session.cookies[0].inactivity: is 0: sessions for this domain never end for inactivity, only at expiration']);
  });

  it('server.trusted_proxies wider than /8 (IPv4) or /32 (IPv6): every client there can forge X-Forwarded-*', async () => {
    const wide = await t.write('wide-proxies.yml', `${MINIMAL_CONFIG}\nserver:\n  trusted_proxies: [10.0.0.0/8, 192.168.0.0/16, 2001:db8::/32, 64.0.0.0/2, 2000::/3, '::ffff:0:0/96', '::ffff:10.0.0.0/100', '::ffff:10.0.0.0/104']\n`);
    const warnings = t.load([wide]).warnings.map(renderProblem);
    assert.deepEqual(warnings, [
      "config: server.trusted_proxies[3]: '64.0.0.0/2' is wider than a /8: every client in that range can set X-Forwarded-* headers and choose the URL and address Gatehouse sees; list only your proxies",
      "config: server.trusted_proxies[4]: '2000::/3' is wider than a /32: every client in that range can set X-Forwarded-* headers and choose the URL and address Gatehouse sees; list only your proxies",
      "config: server.trusted_proxies[5]: '::ffff:0:0/96' covers every IPv4 address (as IPv4-mapped IPv6): any IPv4 client can set X-Forwarded-* headers and choose the URL and address Gatehouse sees",
      "config: server.trusted_proxies[6]: '::ffff:10.0.0.0/100' is wider than a /8 of IPv4 (as IPv4-mapped IPv6): every client in that range can set X-Forwarded-* headers and choose the URL and address Gatehouse sees; list only your proxies",
    ]);
  });

  it("same_site 'none', for the session and for one cookie domain", async () => {
    const cookie = await t.write('same-site-cookie.yml', MINIMAL_CONFIG.replace(
      'authelia_url: https://auth.example.com',
      'authelia_url: https://auth.example.com\n      same_site: none',
    ));
    const session = await t.write('same-site-session.yml', 'session:\n  same_site: none\n');
    assert.deepEqual(t.load([cookie, session]).warnings.map(renderProblem), [
      "config: session.cookies[0].same_site: is 'none': the session cookie is sent on cross-site requests",
      "config: session.same_site: is 'none': the session cookie is sent on cross-site requests",
    ]);
  });
});
