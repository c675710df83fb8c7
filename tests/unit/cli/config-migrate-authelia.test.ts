/**
 * `gatehouse config migrate --from authelia FILE`: the file rewritten through the deprecation table,
 * comments kept, a line per change; the result validates without deprecation warnings and loads as
 * the original did.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadGatewayConfig } from '../../../gateway/config/load.ts';
import { gatewayConfigSchema } from '../../../gateway/config/schema.ts';
import { migrateDeprecated } from '../../../gateway/config/deprecations.ts';
import { runGatehouse } from '../../helpers/cli.ts';
import { repoPath } from '../../helpers/repo.ts';
import { makeTempDir } from '../../helpers/tmp.ts';

const FIXTURE_437 = repoPath('tests', 'fixtures', 'authelia-4.37-configuration.yml');
const FIXTURE_438 = repoPath('tests', 'fixtures', 'authelia-configuration.yml');

let dir: string;
let cleanup: () => Promise<void>;
let env: NodeJS.ProcessEnv;
before(async () => {
  ({ dir, cleanup } = await makeTempDir('gatehouse-cli-migrate-'));
  env = { GATEHOUSE_DATA: join(dir, 'data') };
});
after(() => cleanup());

const migrate = (args: string[], runEnv = env) => runGatehouse(['config', 'migrate', '--from', 'authelia', ...args], runEnv);

async function write(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** Migrates `file` to `<name>` and returns its path, asserting exit 0. */
async function migrated(file: string, name: string, runEnv = env): Promise<{ path: string; err: string }> {
  const path = join(dir, name);
  const r = await migrate([file, '--output', path], runEnv);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '');
  return { path, err: r.err };
}

/** The comment texts of a YAML file, in order. */
function comments(text: string): string[] {
  return [...text.matchAll(/(?:^|\s)#(.*)$/gm)].map((m) => m[1]!.trim()).filter((c) => c !== '');
}

/** Files that load in Gatehouse as Authelia wrote them: each must load the same after migration. */
const LOADABLE: Record<string, string> = {
  'authelia-4.29.yml': `# Authelia 4.29: top-level server and log keys
host: 127.0.0.1
port: 9092
logs_level: debug # while setting up
jwt_secret: Wn4Tz8Qr2Lp6Vx9Hc3Jb7Kd5FgSmAeWn4Tz8Qr2Lp6
authentication_backend:
  disable_reset_password: true
  file:
    path: {dir}/users.yml
    password:
      algorithm: sha512
      iterations: 50000
      salt_length: 24
access_control:
  default_policy: one_factor
session:
  secret: Kd8wQ3nVz7LrT2pYx6HmB9cJf4GsA5tE
  remember_me_duration: 1M
  cookies:
    - domain: example.com
      authelia_url: https://auth.example.com
storage:
  encryption_key: Xq7vR2mLp9TzW4nB8cYd3JfH6sKa5GuE
  postgres:
    host: db.example.com # the database
    port: 5433
    database: authelia
    username: authelia
    password: Pq8vN3xLz6Rt2WcY9mHk
    sslmode: disable
notifier:
  smtp:
    host: smtp.example.com
    port: 465
    username: me
    password: Sv5rM8qLw2Zx7Tc4Nb9H
    sender: me@example.com
    disable_verify_cert: false
`,
  'authelia-4.37-oidc.yml': `authentication_backend:
  file:
    path: {dir}/users.yml
access_control:
  default_policy: one_factor
session:
  secret: Kd8wQ3nVz7LrT2pYx6HmB9cJf4GsA5tE
  cookies:
    - domain: example.com
      authelia_url: https://auth.example.com
storage:
  encryption_key: Xq7vR2mLp9TzW4nB8cYd3JfH6sKa5GuE
  local:
    path: {dir}/db.sqlite3
identity_providers:
  oidc:
    hmac_secret: Wn4Tz8Qr2Lp6Vx9Hc3Jb7Kd5FgSmAeWn4Tz8Qr2Lp6Vx9Hc3Jb7Kd5FgSmAe
    access_token_lifespan: 1h # short
    clients:
      ## the wiki
      - id: wiki  # its id
        description: Wiki
        secret: '$pbkdf2-sha512$310000$c8p78n7pUMln0jzvd4aK4Q$JNRBzwAo0ek5qKn50cFzzvE9RXV88h1wJn5KGiHrD0YKtZaR/nCb2CJPOsKaPK0hjf.9yHxzQGZziziccp6Yng'
        redirect_uris: [https://wiki.example.com/cb]
        userinfo_signing_algorithm: none
      - id: git
        secret: '$pbkdf2-sha512$310000$c8p78n7pUMln0jzvd4aK4Q$JNRBzwAo0ek5qKn50cFzzvE9RXV88h1wJn5KGiHrD0YKtZaR/nCb2CJPOsKaPK0hjf.9yHxzQGZziziccp6Yng'
        redirect_uris:
          - https://git.example.com/cb
`,
  'authelia-4.38-unchanged.yml': '',
};

describe('config migrate on the commented Authelia 4.37 fixture', () => {
  it('keeps every comment, moves each deprecated key, and says what changed on stderr', async () => {
    const r = await migrate([FIXTURE_437]);
    assert.equal(r.code, 0, r.err);
    const original = await readFile(FIXTURE_437, 'utf8');
    assert.deepEqual(comments(r.out).sort(), comments(original).sort(), 'every comment');
    // a moved key's comment follows it; untouched lines stay as written
    assert.match(r.out, /\nidentity_validation:\n {2}reset_password:\n {4}## the secret of the password reset links\n {4}jwt_secret: 'Wn4T[^']+' # pwgen -s 43\n/);
    assert.match(r.out, /\n {2}address: tcp:\/\/0\.0\.0\.0:9091 # Authelia's default\n/);
    assert.match(r.out, /\n {2}cookies:\n {4}## the one cookie domain of 4\.37\n {4}- domain: example\.com\n/);
    assert.match(r.out, /\n {2}remember_me: 1M # a month\n/);
    assert.match(r.out, /\n {8}## in MiB before 4\.36\n {8}memory: 65536\n/);
    assert.ok(r.out.includes("    - domain: 'home.example.com'\n      policy: bypass\n"), 'access_control untouched');
    assert.ok(r.out.startsWith('# yamllint disable rule:comments-indentation\n---\n'), 'the header and document start stay');
    const lines = r.err.trimEnd().split('\n');
    for (const line of [
      'config: jwt_secret: moved to identity_validation.reset_password.jwt_secret',
      "config: server.host: moved to server.address as 'tcp://0.0.0.0:9091'",
      "config: server.port: moved to server.address as 'tcp://0.0.0.0:9091'",
      'config: server.read_buffer_size: moved to server.buffers.read',
      "config: authentication_backend.file.password.memory: moved to authentication_backend.file.password.argon2.memory as '65536'",
      'config: session.domain: moved to session.cookies[0].domain',
      'config: default_redirection_url: moved to session.cookies[0].default_redirection_url',
      'config: session.remember_me_duration: moved to session.remember_me',
      "config: notifier.smtp.host: moved to notifier.smtp.address as 'submission://smtp.gmail.com:587'",
      'config: notifier.smtp.disable_verify_cert: moved to notifier.smtp.tls.skip_verify',
      "config: authentication_backend.file.password.algorithm: changed from 'argon2id' to 'argon2'",
      // the 4.38 form the file now has needs the portal's URL written down (4.37 took it from the proxy)
      "error: config: session.cookies[0].authelia_url: is required: the URL of the Gatehouse portal for 'example.com' (for example https://auth.example.com/)",
    ]) assert.ok(lines.includes(line), `${line}\nin\n${r.err}`);
    assert.ok(lines.every((line) => /^(?:(?:warning|error): )?config: [^ ]+: ./.test(line)), r.err);
    assert.ok(!/Wn4Tz8|Kd8wQ3|qzvt/.test(r.err), 'no secret is repeated on stderr');
  });

  it('means what the original meant, and validates without a deprecation warning once the portal URL is added', async () => {
    const { path } = await migrated(FIXTURE_437, 'migrated-4.37.yml');
    const text = await readFile(path, 'utf8');
    // the effective configuration: both through the table and the schema. The original's cookie is a
    // legacy one (its portal URL comes from each request); the written file holds the current form,
    // where the same cookie needs its authelia_url
    const original = gatewayConfigSchema.parse(migrateDeprecated(parse(await readFile(FIXTURE_437, 'utf8'))).raw);
    assert.equal(original.session.cookies[0]!.legacy, true);
    delete original.session.cookies[0]!.legacy;
    assert.equal(migrateDeprecated(parse(text)).problems.length, 0);
    assert.deepEqual(gatewayConfigSchema.parse(parse(text)), original);
    const withPortal = await write('migrated-4.37-portal.yml', text.replace('    - domain: example.com\n', '    - domain: example.com\n      authelia_url: https://auth.example.com\n'));
    const r = await runGatehouse(['config', 'validate', '--config', withPortal], env);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'config: OK\n');
    assert.ok(!r.err.includes('is deprecated'), r.err);
  });
});

describe('config migrate: the result loads as the original did, with no deprecation warning', () => {
  for (const name of Object.keys(LOADABLE)) {
    it(name, async () => {
      const file = LOADABLE[name] === '' ? FIXTURE_438 : await write(name, LOADABLE[name]!.replaceAll('{dir}', dir));
      const before = loadGatewayConfig({ files: [file], env: {} });
      const { path, err } = await migrated(file, `migrated-${name}`);
      const after = loadGatewayConfig({ files: [path], env: {} });
      assert.deepEqual(after.config, before.config);
      assert.ok(!after.warnings.some((w) => w.message.includes('is deprecated')), JSON.stringify(after.warnings));
      const r = await runGatehouse(['config', 'validate', '--config', path], env);
      assert.equal(r.code, 0, r.err);
      assert.ok(!r.err.includes('is deprecated'), r.err);
      if (file === FIXTURE_438) {
        assert.equal(await readFile(path, 'utf8'), await readFile(FIXTURE_438, 'utf8'), 'a 4.38 file is written back as it was');
        assert.equal(err, `config: ${FIXTURE_438}: no deprecated keys; nothing changed\n`);
      }
    });
  }

  it('the 4.29 file: comments follow their keys and the new sections take the old keys\' places', async () => {
    const file = await write('authelia-4.29-text.yml', LOADABLE['authelia-4.29.yml']!.replaceAll('{dir}', dir));
    const r = await migrate([file]);
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.startsWith('# Authelia 4.29: top-level server and log keys\nserver:\n  address: tcp://127.0.0.1:9092\nlog:\n  level: debug # while setting up\n'), r.out);
    assert.match(r.out, /\n {4}address: tcp:\/\/db\.example\.com:5433 # the database\n/);
    // mode disable is what no tls block means: the key goes, nothing replaces it
    assert.ok(r.err.includes('config: storage.postgres.sslmode: removed: is deprecated; use storage.postgres.tls instead\n'), r.err);
    assert.ok(r.out.includes('    password: Pq8vN3xLz6Rt2WcY9mHk\nnotifier:\n'), r.out);
    assert.ok(r.err.includes("config: authentication_backend.file.password.salt_length: moved to authentication_backend.file.password.sha2crypt.salt_length as '16'\n"), r.err);
  });

  it('the OpenID Connect clients: each key renamed in its own list item, comments kept', async () => {
    const file = await write('authelia-4.37-oidc-text.yml', LOADABLE['authelia-4.37-oidc.yml']!.replaceAll('{dir}', dir));
    const r = await migrate([file]);
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.includes('    lifespans:\n      access_token: 1h # short\n'), r.out);
    assert.ok(r.out.includes('      ## the wiki\n      - client_id: wiki # its id\n        client_name: Wiki\n        client_secret: '), r.out);
    assert.ok(r.out.includes('      - client_id: git\n        client_secret: '), r.out);
    assert.ok(r.err.includes('config: identity_providers.oidc.clients[1].id: moved to identity_providers.oidc.clients[1].client_id\n'), r.err);
    assert.ok(!r.err.includes('$pbkdf2'), 'a client secret is never repeated');
  });
});

describe('config migrate keeps template expressions as written', () => {
  const TEMPLATED = `jwt_secret: {{ env "JWT" }}
authentication_backend:
  file:
    path: '{{ env "USERS" }}'
access_control:
  default_policy: one_factor
session:
  secret: {{ env "SESSION" }}
  cookies:
    - domain: example.com
      authelia_url: https://auth.example.com
storage:
  encryption_key: Xq7vR2mLp9TzW4nB8cYd3JfH6sKa5GuE
  local:
    path: {dir}/db.sqlite3
`;

  it('moves a key whose value is one, and the result renders to the same configuration', async () => {
    const file = await write('templated.yml', TEMPLATED.replaceAll('{dir}', dir));
    const { path, err } = await migrated(file, 'migrated-templated.yml');
    const text = await readFile(path, 'utf8');
    assert.ok(text.startsWith('identity_validation:\n  reset_password:\n    jwt_secret: {{ env "JWT" }}\n'), text);
    assert.ok(text.includes(`    path: '{{ env "USERS" }}'\n`) && text.includes('  secret: {{ env "SESSION" }}\n'), text);
    assert.ok(err.includes(`config: ${path}: holds template expressions: check the result with gatehouse config validate and the filters set\n`), err);
    const filtered = { GATEHOUSE_CONFIG_FILTERS: 'template', JWT: 'Wn4Tz8Qr2Lp6Vx9Hc3Jb7Kd5FgSmAeWn4Tz8Qr2Lp6', USERS: join(dir, 'users.yml'), SESSION: 'Kd8wQ3nVz7LrT2pYx6HmB9cJf4GsA5tE' };
    assert.deepEqual(loadGatewayConfig({ files: [path], env: filtered }).config, loadGatewayConfig({ files: [file], env: filtered }).config);
  });

  it('refuses a template in a key whose new value is computed, and {{ if }}: exit 2, nothing written', async () => {
    for (const [name, text, expected] of [
      ['templated-port.yml', 'server:\n  host: 0.0.0.0\n  port: {{ env "PORT" }}\n', 'config: server.port: its value is a template expression and the new key is computed from it; move it by hand'],
      ['templated-if.yml', 'server:\n  port: 9091\n{{ if env "X" }}\njwt_secret: x\n{{ end }}\n', 'holds a template control action ({{ if env "X" }})'],
    ] as const) {
      const out = join(dir, `out-${name}`);
      const r = await migrate([await write(name, text), '--output', out]);
      assert.equal(r.code, 2, r.err);
      assert.ok(r.err.includes(expected), r.err);
      assert.equal(existsSync(out), false);
    }
  });
});

describe('config migrate --output', () => {
  it('writes the file with mode 0600, and replaces an existing one only with --force', async () => {
    const out = join(dir, 'output.yml');
    await writeFile(out, 'keep: me\n');
    const refused = await migrate([FIXTURE_437, '--output', out]);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /output\.yml exists; add --force to replace it/);
    assert.equal(await readFile(out, 'utf8'), 'keep: me\n');
    const forced = await migrate([FIXTURE_437, '--output', out, '--force']);
    assert.equal(forced.code, 0, forced.err);
    assert.match(await readFile(out, 'utf8'), /identity_validation:/);
    assert.equal((await stat(out)).mode & 0o777, 0o600);
    // a link at the path counts as something there, even one leading nowhere
    const link = join(dir, 'dangling.yml');
    await symlink(join(dir, 'nowhere', 'target.yml'), link);
    const onLink = await migrate([FIXTURE_437, '--output', link]);
    assert.equal(onLink.code, 2);
    assert.match(onLink.err, /dangling\.yml exists; add --force to replace it/);
  });
});

describe('config migrate refuses what it cannot migrate: exit 2, a clear message, nothing written', () => {
  const cases: [string, string | null, RegExp][] = [
    ['missing.yml', null, /^config: .*missing\.yml: cannot read the file \(ENOENT\)$/m],
    ['not-yaml.yml', 'server:\n  port: [9091\n', /^config: .*not-yaml\.yml: line \d+, column \d+: /m],
    ['a-list.yml', '- server\n', /^config: .*a-list\.yml: the top level must be a mapping of sections/m],
    ['both.yml', "server:\n  port: 9092\n  address: 'tcp://:9093'\n", /^config: server\.port: is deprecated and server\.address is set too; remove server\.port \(server\.address replaces it\)$/m],
    ['jwt-both.yml', 'jwt_secret: a\nidentity_validation:\n  reset_password:\n    jwt_secret: b\n', /^config: jwt_secret: is deprecated and identity_validation\.reset_password\.jwt_secret is set too/m],
  ];
  for (const [name, text, expected] of cases) {
    it(name, async () => {
      const file = text === null ? join(dir, name) : await write(name, text);
      const out = join(dir, `refused-${name}`);
      const r = await migrate([file, '--output', out]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, expected);
      assert.equal(r.out, '');
      assert.equal(existsSync(out), false);
    });
  }

  it('--from names the only source there is', async () => {
    const other = await runGatehouse(['config', 'migrate', '--from', 'keycloak', FIXTURE_437], env);
    assert.equal(other.code, 2);
    assert.match(other.err, /config migrate --from 'keycloak': the only source is 'authelia'/);
    const none = await runGatehouse(['config', 'migrate', FIXTURE_437], env);
    assert.equal(none.code, 2);
    assert.match(none.err, /config migrate needs --from authelia/);
  });
});

describe('config validate on an Authelia file says each mapping in the config grammar', () => {
  it("one 'warning: config: <old>: is deprecated; …' line per key config migrate moves", async () => {
    const file = await write('validate-4.29.yml', LOADABLE['authelia-4.29.yml']!.replaceAll('{dir}', dir));
    const validate = await runGatehouse(['config', 'validate', '--config', file], env);
    assert.equal(validate.code, 0, validate.err);
    const lines = validate.err.trimEnd().split('\n');
    assert.ok(lines.every((line) => /^warning: config: [^ ]+: ./.test(line)), validate.err);
    // storage.postgres.sslmode goes to tls through storage.postgres.ssl, a key the file never had
    const deprecated = lines.filter((line) => line.includes('is deprecated')).map((line) => line.split(': ')[2]).filter((path) => path !== 'storage.postgres.ssl');
    const r = await migrate([file]);
    const moved = r.err.trimEnd().split('\n').filter((line) => / (?:moved to|removed|changed from)\b/.test(line)).map((line) => line.split(': ')[1]);
    assert.deepEqual([...new Set(deprecated)].sort(), [...new Set(moved)].sort());
  });
});
