import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderProblem } from '../../../lib/config-problems.ts';
import { makeConfigDir, MINIMAL_CONFIG, type ConfigDir } from './config-files.ts';

let t: ConfigDir;
let base: string;
before(async () => {
  t = await makeConfigDir();
  base = await t.write('base.yml', MINIMAL_CONFIG);
});
after(() => t.cleanup());

describe('several --config files merge in order', () => {
  it('mappings merge key by key, lists are replaced whole, later scalars win', async () => {
    const first = await t.write('first.yml', `
log:
  level: debug
  format: text
server:
  trusted_proxies: [10.0.0.0/8, 192.168.0.0/16]
regulation:
  max_retries: 5
  find_time: 2m
access_control:
  rules:
    - domain: a.example.com
      policy: bypass
    - domain: b.example.com
      policy: two_factor
`);
    const second = await t.write('second.yml', `
log:
  level: warn
server:
  trusted_proxies: [172.16.0.0/12]
regulation:
  ban_time: 10m
access_control:
  rules:
    - domain: c.example.com
      policy: one_factor
`);
    const { config, files } = t.load([base, first, second]);
    assert.deepEqual(files, [base, first, second]);
    assert.equal(config.log.level, 'warn');
    assert.equal(config.log.format, 'text', 'a key only the first file sets is kept');
    assert.deepEqual(config.server.trusted_proxies, ['172.16.0.0/12']);
    assert.deepEqual(config.access_control.rules, [{ domain: ['c.example.com'], policy: 'one_factor' }]);
    assert.equal(config.regulation.max_retries, 5);
    assert.equal(config.regulation.find_time, 120);
    assert.equal(config.regulation.ban_time, 600);
    assert.equal(config.access_control.default_policy, 'one_factor', 'set only by the base file');
  });

  it('an empty file (or one with only comments) changes nothing', async () => {
    const empty = await t.write('empty.yml', '# nothing here yet\n');
    assert.deepEqual(t.load([base, empty]).config, t.load([base]).config);
  });

  it('a file whose top level is not a mapping is a problem naming the file', async () => {
    const list = await t.write('list.yml', '- server\n- session\n');
    assert.deepEqual(t.problems([base, list]), [
      `config: ${list}: the top level must be a mapping of sections (server:, session:, …)`,
    ]);
  });
});

describe('GATEHOUSE_<PATH> environment variables override the files', () => {
  it('GATEHOUSE_SESSION_REDIS_HOST creates session.redis with its defaults', () => {
    const { config } = t.load([base], {
      GATEHOUSE_SESSION_REDIS_HOST: 'redis.internal',
      GATEHOUSE_SESSION_SECRET: 'hV3kPz8QmW2rT6yN9cLb4XjD7fGs5AeU',
    });
    assert.equal(config.session.redis?.host, 'redis.internal');
    assert.equal(config.session.redis?.port, 6379);
    assert.equal(config.session.secret, 'hV3kPz8QmW2rT6yN9cLb4XjD7fGs5AeU');
  });

  it('numbers are coerced: GATEHOUSE_REGULATION_MAX_RETRIES=7 and GATEHOUSE_SESSION_REDIS_PORT=6380', () => {
    const { config } = t.load([base], {
      GATEHOUSE_REGULATION_MAX_RETRIES: '7',
      GATEHOUSE_SESSION_REDIS_HOST: 'redis',
      GATEHOUSE_SESSION_REDIS_PORT: '6380',
      GATEHOUSE_SESSION_SECRET: 'hV3kPz8QmW2rT6yN9cLb4XjD7fGs5AeU',
    });
    assert.equal(config.regulation.max_retries, 7);
    assert.equal(config.session.redis?.port, 6380);
  });

  it('a value that is not a number is reported against its key', () => {
    assert.deepEqual(t.problems([base], { GATEHOUSE_REGULATION_MAX_RETRIES: 'seven' }), [
      'config: regulation.max_retries: must be a number, not string "seven"',
    ]);
  });

  it('GATEHOUSE_SERVER_TRUSTED_PROXIES is a comma-separated list that replaces the file list', async () => {
    const withProxies = await t.write('proxies.yml', `${MINIMAL_CONFIG}\nserver:\n  trusted_proxies: [127.0.0.1/32]\n`);
    const { config } = t.load([withProxies], { GATEHOUSE_SERVER_TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.10 ,,fd00::/8' });
    assert.deepEqual(config.server.trusted_proxies, ['10.0.0.0/8', '192.168.1.10', 'fd00::/8']);
  });

  it("booleans accept 'true' and 'false'", () => {
    const { config } = t.load([base], {
      GATEHOUSE_LOG_KEEP_STDOUT: 'true',
      GATEHOUSE_AUTHENTICATION_BACKEND_FILE_WATCH: 'false',
    });
    assert.equal(config.log.keep_stdout, true);
    assert.equal(config.authentication_backend.file?.watch, false);
  });

  it("any other boolean spelling is a problem, not silently false", () => {
    assert.deepEqual(t.problems([base], { GATEHOUSE_LOG_KEEP_STDOUT: 'yes' }), [
      'config: log.keep_stdout: must be a boolean, not string "yes"',
    ]);
  });

  it('durations: GATEHOUSE_SESSION_EXPIRATION=2h, GATEHOUSE_REGULATION_FIND_TIME=60', () => {
    const { config, warnings } = t.load([base], { GATEHOUSE_SESSION_EXPIRATION: '2h', GATEHOUSE_REGULATION_FIND_TIME: '60' });
    assert.equal(config.session.expiration, 7200);
    assert.equal(config.regulation.find_time, 60);
    assert.deepEqual(warnings, []);
  });

  it('strings and enums: GATEHOUSE_LOG_LEVEL, GATEHOUSE_ACCESS_CONTROL_DEFAULT_POLICY', () => {
    const { config } = t.load([base], { GATEHOUSE_LOG_LEVEL: 'debug', GATEHOUSE_ACCESS_CONTROL_DEFAULT_POLICY: 'two_factor' });
    assert.equal(config.log.level, 'debug');
    assert.equal(config.access_control.default_policy, 'two_factor');
  });
});

describe('GATEHOUSE_<PATH>_FILE reads a secret from a file', () => {
  it('GATEHOUSE_STORAGE_ENCRYPTION_KEY_FILE replaces the key, without the trailing newline', async () => {
    const keyFile = join(t.dir, 'encryption_key');
    await writeFile(keyFile, 'P4mZt8WqR2vLx6NcYb9HkJ3dG7fSa5Eu\n');
    const { config, warnings } = t.load([base], { GATEHOUSE_STORAGE_ENCRYPTION_KEY_FILE: keyFile });
    assert.equal(config.storage.encryption_key, 'P4mZt8WqR2vLx6NcYb9HkJ3dG7fSa5Eu');
    assert.deepEqual(warnings, []);
  });

  it('a Windows line ending is stripped too; inner spaces are kept', async () => {
    const secretFile = join(t.dir, 'redis_password');
    await writeFile(secretFile, 'Tq9 vL2 with spaces kX7\r\n');
    const { config } = t.load([base], {
      GATEHOUSE_SESSION_REDIS_HOST: 'redis',
      GATEHOUSE_SESSION_REDIS_PASSWORD_FILE: secretFile,
      GATEHOUSE_SESSION_SECRET: 'hV3kPz8QmW2rT6yN9cLb4XjD7fGs5AeU',
    });
    assert.equal(config.session.redis?.password, 'Tq9 vL2 with spaces kX7');
  });

  it('setting a secret both directly and by file is an error', async () => {
    const keyFile = join(t.dir, 'encryption_key_both');
    await writeFile(keyFile, 'P4mZt8WqR2vLx6NcYb9HkJ3dG7fSa5Eu\n');
    assert.deepEqual(
      t.problems([base], { GATEHOUSE_STORAGE_ENCRYPTION_KEY: 'key-from-the-environment-0123456789', GATEHOUSE_STORAGE_ENCRYPTION_KEY_FILE: keyFile }),
      ['config: storage.encryption_key: set both by GATEHOUSE_STORAGE_ENCRYPTION_KEY and GATEHOUSE_STORAGE_ENCRYPTION_KEY_FILE; use one'],
    );
  });

  it('a secret file that cannot be read is an error naming the variable', () => {
    const missing = join(t.dir, 'no-such-secret');
    const problems = t.problems([base], { GATEHOUSE_STORAGE_ENCRYPTION_KEY_FILE: missing });
    assert.deepEqual(problems, [
      `config: storage.encryption_key: cannot read the secret file ${missing} named by GATEHOUSE_STORAGE_ENCRYPTION_KEY_FILE (ENOENT)`,
    ]);
  });

  it("the LDAP service account's password: GATEHOUSE_AUTHENTICATION_BACKEND_LDAP_PASSWORD_FILE is read like every secret", async () => {
    const ldapConfig = await t.write('ldap.yml', MINIMAL_CONFIG.replace(/authentication_backend:\n  file:\n    path: .*\n/, `authentication_backend:
  password_reset:
    disable: true
  ldap:
    implementation: lldap
    address: ldaps://ldap.example.com
    base_dn: dc=example,dc=com
    user: uid=gatehouse,ou=people,dc=example,dc=com
`));
    const secretFile = join(t.dir, 'ldap_password');
    await writeFile(secretFile, 'Lw8kQz3vN7tRm2Xc\n');
    const loaded = t.load([ldapConfig], { GATEHOUSE_AUTHENTICATION_BACKEND_LDAP_PASSWORD_FILE: secretFile });
    assert.equal(loaded.config.authentication_backend.ldap?.password, 'Lw8kQz3vN7tRm2Xc');
    assert.ok(t.problems([ldapConfig]).includes("config: authentication_backend.ldap.password: is required: the service account's password (or set permit_unauthenticated_bind)"));
    assert.ok(
      t.problems([ldapConfig], { GATEHOUSE_AUTHENTICATION_BACKEND_LDAP_PASSWORD: 'x', GATEHOUSE_AUTHENTICATION_BACKEND_LDAP_PASSWORD_FILE: secretFile })
        .includes('config: authentication_backend.ldap.password: set both by GATEHOUSE_AUTHENTICATION_BACKEND_LDAP_PASSWORD and GATEHOUSE_AUTHENTICATION_BACKEND_LDAP_PASSWORD_FILE; use one'),
    );
  });

  it('_FILE on a key that is not a secret is ignored with a warning', async () => {
    const nameFile = join(t.dir, 'cookie_name');
    await writeFile(nameFile, 'from_a_file\n');
    const { config, warnings } = t.load([base], { GATEHOUSE_SESSION_NAME_FILE: nameFile });
    assert.equal(config.session.name, 'gatehouse_session');
    assert.equal(warnings.length, 1);
    assert.match(renderProblem(warnings[0]!), /^config: GATEHOUSE_SESSION_NAME_FILE: the environment variable was ignored: session\.name is not a secret/);
  });

  it('server.tls.key is the path of a key file, not a secret: GATEHOUSE_SERVER_TLS_KEY_FILE is ignored', async () => {
    const pem = join(t.dir, 'tls.key');
    await writeFile(pem, '-----BEGIN PRIVATE KEY-----\n');
    const withTls = await t.write('tls.yml', `${MINIMAL_CONFIG}\nserver:\n  tls:\n    certificate: /etc/ssl/gatehouse.crt\n    key: /etc/ssl/gatehouse.key\n`);
    const { config, warnings } = t.load([withTls], { GATEHOUSE_SERVER_TLS_KEY_FILE: pem });
    assert.equal(config.server.tls?.key, '/etc/ssl/gatehouse.key');
    assert.deepEqual(warnings.map(renderProblem), [
      'config: GATEHOUSE_SERVER_TLS_KEY_FILE: the environment variable was ignored: server.tls.key is not a secret, so it is not read from a file; set GATEHOUSE_SERVER_TLS_KEY instead',
    ]);
  });
});

describe('environment variables that are not configuration keys', () => {
  it('an unknown GATEHOUSE_* variable is a warning naming it', () => {
    const { warnings } = t.load([base], { GATEHOUSE_SESION_SECRET: 'typo-in-the-name-0123456789' });
    assert.deepEqual(warnings.map(renderProblem), ['config: GATEHOUSE_SESION_SECRET: the environment variable names no configuration key and was ignored']);
  });

  it('a list of objects (access_control rules) cannot come from one variable, so it is unknown too', () => {
    const { config, warnings } = t.load([base], { GATEHOUSE_ACCESS_CONTROL_RULES: 'deny' });
    assert.deepEqual(config.access_control.rules, []);
    assert.deepEqual(warnings.map(renderProblem), ['config: GATEHOUSE_ACCESS_CONTROL_RULES: the environment variable names no configuration key and was ignored']);
  });

  it('GATEHOUSE_MONITOR_*, GATEHOUSE_DATA, GATEHOUSE_CONFIG and other programs’ variables are ignored silently', () => {
    const { config, warnings } = t.load([base], {
      GATEHOUSE_MONITOR_TRUSTED_PROXIES: '10.0.0.1',
      GATEHOUSE_MONITOR_ADDRESS: 'tcp://127.0.0.1:8008',
      GATEHOUSE_DATA: '/var/lib/gatehouse',
      GATEHOUSE_CONFIG: '/etc/gatehouse/gateway.yml',
      PATH: '/usr/bin',
      AUTHELIA_SESSION_SECRET: 'not ours',
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(config, t.load([base]).config);
  });
});
