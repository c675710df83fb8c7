/**
 * Authelia's deprecated keys (internal/configuration/deprecation.go, 4.39) load: each is moved to the
 * key that replaced it, with the warning `config: <old>: is deprecated; use <new> instead`; set beside
 * its replacement it is an error. One small file per key family, on top of a minimal configuration.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { renderProblem } from '../../../lib/config-problems.ts';
import { migrateDeprecated } from '../../../gateway/config/deprecations.ts';
import { makeConfigDir, MINIMAL_CONFIG, type ConfigDir } from './config-files.ts';

let t: ConfigDir;
let minimal: string;
before(async () => {
  t = await makeConfigDir();
  minimal = await t.write('minimal.yml', MINIMAL_CONFIG);
});
after(() => t.cleanup());

/** The minimal configuration plus `yaml`: the loaded config and its warnings as printed. */
async function loadWith(name: string, yaml: string) {
  const file = await t.write(name, yaml);
  const loaded = t.load([minimal, file]);
  return { config: loaded.config, warnings: loaded.warnings.map(renderProblem) };
}

/** The minimal configuration on PostgreSQL instead of SQLite, plus `yaml` under storage.postgres. */
async function postgresFile(name: string, yaml: string): Promise<string> {
  const base = MINIMAL_CONFIG.replace(/  local:\n    path: .*\n/, '');
  return t.write(name, `${base}  postgres:\n    database: authelia\n    username: authelia\n    password: Pq8vN3xLz6Rt2WcY9mHk\n${yaml}`);
}

async function problemsWith(name: string, yaml: string): Promise<string[]> {
  return t.problems([minimal, await t.write(name, yaml)]);
}

describe('server.host, server.port and server.path become server.address', () => {
  it('host and port: one address, and a warning per old key naming server.address and the value read', async () => {
    const { config, warnings } = await loadWith('server.yml', 'server:\n  host: 0.0.0.0\n  port: 9092\n');
    assert.equal(config.server.address, 'tcp://0.0.0.0:9092');
    assert.deepEqual(warnings, [
      "config: server.host: is deprecated; use server.address instead (read as server.address: 'tcp://0.0.0.0:9092')",
      "config: server.port: is deprecated; use server.address instead (read as server.address: 'tcp://0.0.0.0:9092')",
    ]);
  });

  it('port alone listens on every interface, as in Authelia', async () => {
    const { config } = await loadWith('server-port.yml', 'server:\n  port: 9093\n');
    assert.equal(config.server.address, 'tcp://:9093');
  });

  it('path is kept as the address path; an IPv6 host is bracketed', () => {
    const { raw } = migrateDeprecated({ server: { host: '::1', port: '9091', path: '/auth/' } });
    assert.deepEqual(raw, { server: { address: 'tcp://[::1]:9091/auth' } });
  });

  it('top-level host and port (Authelia 4.30) go the same way', () => {
    const { raw, problems } = migrateDeprecated({ host: '127.0.0.1', port: 8080 });
    assert.deepEqual(raw, { server: { address: 'tcp://127.0.0.1:8080' } });
    assert.deepEqual(problems.map(renderProblem), [
      "config: host: is deprecated; use server.address instead (read as server.address: 'tcp://127.0.0.1:8080')",
      "config: port: is deprecated; use server.address instead (read as server.address: 'tcp://127.0.0.1:8080')",
    ]);
  });

  it('beside server.address it is an error, as in Authelia', async () => {
    assert.deepEqual(await problemsWith('server-both.yml', "server:\n  port: 9092\n  address: 'tcp://:9093'\n"), [
      'config: server.port: is deprecated and server.address is set too; remove server.port (server.address replaces it)',
    ]);
  });

  it('a port that is not one is an error naming the old key', async () => {
    assert.deepEqual(await problemsWith('server-bad-port.yml', 'server:\n  port: ninety\n'), [
      'config: server.port: is deprecated; use server.address instead, and it cannot be mapped: the port must be a number from 1 to 65535',
    ]);
  });
});

describe('session.domain (with default_redirection_url and the session-wide durations) becomes one session.cookies[] entry', () => {
  const LEGACY = `
authentication_backend:
  file:
    path: '{dir}/users.yml'
access_control:
  default_policy: one_factor
storage:
  encryption_key: Xq7vR2mLp9TzW4nB8cYd3JfH6sKa5GuE
  local:
    path: '{dir}/db.sqlite3'
default_redirection_url: https://home.example.com
session:
  name: my_session
  domain: example.com
  expiration: 2h
  inactivity: 10m
  remember_me_duration: 1w
`;

  it('the cookie carries the domain, the redirection URL, the name and the durations', () => {
    const { raw, problems } = migrateDeprecated(structuredClone({
      default_redirection_url: 'https://home.example.com',
      session: { name: 'my_session', domain: 'example.com', expiration: '2h', inactivity: '10m', remember_me_duration: '1w' },
    }));
    assert.deepEqual(raw, {
      session: {
        name: 'my_session', expiration: '2h', inactivity: '10m', remember_me: '1w',
        cookies: [{ domain: 'example.com', legacy: true, name: 'my_session', expiration: '2h', inactivity: '10m', remember_me: '1w', default_redirection_url: 'https://home.example.com' }],
      },
    });
    assert.deepEqual(problems.map(renderProblem), [
      'config: session.remember_me_duration: is deprecated; use session.remember_me instead',
      'config: session.domain: is deprecated; use session.cookies[].domain instead',
      'config: default_redirection_url: is deprecated; use session.cookies[].default_redirection_url instead',
    ]);
  });

  it('loads without authelia_url, as in Authelia 4.39 (its Legacy cookie), and recommends setting it', async () => {
    const file = await t.write('legacy-session.yml', LEGACY);
    const loaded = t.load([file]);
    const cookie = loaded.config.session.cookies[0]!;
    assert.equal(cookie.authelia_url, undefined);
    assert.equal(cookie.legacy, true);
    assert.equal(cookie.default_redirection_url, 'https://home.example.com');
    assert.ok(
      loaded.warnings.map(renderProblem).includes(
        "config: session.domain: has no portal URL: Gatehouse takes the portal's URL from each request (X-Forwarded-Proto and X-Forwarded-Host, from a proxy in server.trusted_proxies) and from the proxy's rd or authelia_url parameter, as Authelia before 4.38 did; moving to session.cookies with authelia_url (for example https://auth.example.com/) is recommended",
      ),
    );
  });

  it('with OpenID Connect or an identity assertion, which need one issuer URL, it is an error telling to set authelia_url', async () => {
    const oidc = await t.write('legacy-oidc.yml', `${LEGACY}identity_providers:\n  oidc:\n    clients: []\n`);
    const problems = t.problems([oidc]);
    assert.ok(
      problems.includes(
        "config: identity_providers.oidc: needs the portal's URL, which the deprecated session.domain does not give; replace session.domain with session.cookies: [{ domain: 'example.com', authelia_url: 'https://auth.example.com/' }] (the issuer is the portal's URL)",
      ),
      problems.join('\n'),
    );
  });

  it('with the embedded proxy, a warning: a visitor who must sign in gets 401, there is no portal to send them to', async () => {
    const file = await t.write('legacy-upstreams.yml', `${LEGACY}server:\n  upstreams:\n    app.example.com: http://127.0.0.1:8080\n`);
    assert.ok(
      t.load([file]).warnings.map(renderProblem).includes(
        'config: server.upstreams: the embedded proxy cannot send a visitor who must sign in to the portal: the deprecated session.domain gives no portal URL, so they get 401; set session.cookies[].authelia_url',
      ),
    );
  });

  it('the legacy marker cannot be written in a file: it would waive authelia_url', async () => {
    const problems = await problemsWith('legacy-marker.yml', 'session:\n  cookies:\n    - domain: example.org\n      legacy: true\n');
    assert.deepEqual(problems, [
      'config: session.cookies[0].legacy: unknown key; check its spelling against config/gatehouse.schema.json',
      "config: session.cookies[0].authelia_url: is required: the URL of the Gatehouse portal for 'example.org' (for example https://auth.example.org/)",
    ]);
  });

  it('a default_redirection_url outside session.domain is ignored with a warning, as Authelia does for its Legacy cookie', () => {
    const { raw, problems } = migrateDeprecated({ default_redirection_url: 'https://home.example.org/', session: { domain: 'example.com' } });
    assert.deepEqual(raw, { session: { cookies: [{ domain: 'example.com', legacy: true }] } });
    assert.deepEqual(problems.map(renderProblem), [
      'config: session.domain: is deprecated; use session.cookies[].domain instead',
      "config: default_redirection_url: is deprecated; use session.cookies[].default_redirection_url instead; the host 'home.example.org' is not 'example.com' or below it, so it is ignored",
    ]);
  });

  it('session.domain beside session.cookies is an error', async () => {
    const problems = await problemsWith('session-both.yml', 'session:\n  domain: example.org\n');
    assert.deepEqual(problems, ['config: session.domain: is deprecated and session.cookies is set too; remove session.domain (session.cookies replaces it)']);
  });

  it('a top-level default_redirection_url beside session.cookies is an error naming the per-cookie key', async () => {
    const problems = await problemsWith('redirect-cookies.yml', 'default_redirection_url: https://home.example.com\n');
    assert.deepEqual(problems, [
      'config: default_redirection_url: is deprecated; use session.cookies[].default_redirection_url instead: it is read only beside the deprecated session.domain, so set it on the cookie',
    ]);
  });
});

describe('renamed keys: the value moves, the warning names the new key', () => {
  it('jwt_secret → identity_validation.reset_password.jwt_secret', async () => {
    const { config, warnings } = await loadWith('jwt.yml', 'jwt_secret: Wn4Tz8Qr2Lp6Vx9Hc3Jb7Kd5FgSmAeWn4Tz8Qr2Lp6\n');
    assert.equal(config.identity_validation.reset_password.jwt_secret, 'Wn4Tz8Qr2Lp6Vx9Hc3Jb7Kd5FgSmAeWn4Tz8Qr2Lp6');
    assert.ok(warnings.includes('config: jwt_secret: is deprecated; use identity_validation.reset_password.jwt_secret instead'), warnings.join('\n'));
  });

  it('authentication_backend.disable_reset_password → authentication_backend.password_reset.disable', async () => {
    const { config, warnings } = await loadWith('reset.yml', 'authentication_backend:\n  disable_reset_password: true\n');
    assert.equal(config.authentication_backend.password_reset.disable, true);
    assert.deepEqual(warnings, ['config: authentication_backend.disable_reset_password: is deprecated; use authentication_backend.password_reset.disable instead']);
  });

  it('the same value at both places loads; different values are an error', async () => {
    const same = await loadWith('reset-same.yml', 'authentication_backend:\n  disable_reset_password: true\n  password_reset: { disable: true }\n');
    assert.equal(same.config.authentication_backend.password_reset.disable, true);
    assert.deepEqual(await problemsWith('reset-differ.yml', 'authentication_backend:\n  disable_reset_password: true\n  password_reset: { disable: false }\n'), [
      'config: authentication_backend.disable_reset_password: is deprecated and authentication_backend.password_reset.disable is set too; remove authentication_backend.disable_reset_password (authentication_backend.password_reset.disable replaces it)',
    ]);
  });

  it('server.read_buffer_size/write_buffer_size → server.buffers, enable_pprof/enable_expvars → server.endpoints', async () => {
    const { config, warnings } = await loadWith('buffers.yml', 'server:\n  read_buffer_size: 8192\n  write_buffer_size: 4096\n  enable_pprof: false\n  enable_expvars: false\n');
    assert.deepEqual(config.server.buffers, { read: 8192, write: 4096 });
    assert.deepEqual(config.server.endpoints, { enable_pprof: false, enable_expvars: false });
    for (const [old, use] of [['read_buffer_size', 'buffers.read'], ['write_buffer_size', 'buffers.write'], ['enable_pprof', 'endpoints.enable_pprof'], ['enable_expvars', 'endpoints.enable_expvars']]) {
      assert.ok(warnings.includes(`config: server.${old}: is deprecated; use server.${use} instead`), warnings.join('\n'));
    }
  });

  it('webauthn.user_verification → webauthn.selection_criteria.user_verification', async () => {
    const { config, warnings } = await loadWith('webauthn.yml', 'webauthn:\n  user_verification: required\n');
    assert.equal(config.webauthn.selection_criteria.user_verification, 'required');
    assert.deepEqual(warnings, ['config: webauthn.user_verification: is deprecated; use webauthn.selection_criteria.user_verification instead']);
  });

  it('the top-level log keys → log.*', async () => {
    const { config, warnings } = await loadWith('log.yml', 'log_level: debug\nlog_format: text\nlogs_file: /var/log/authelia.log\n');
    assert.deepEqual([config.log.level, config.log.format, config.log.file_path], ['debug', 'text', '/var/log/authelia.log']);
    assert.deepEqual(warnings, [
      'config: logs_file: is deprecated; use log.file_path instead',
      'config: log_level: is deprecated; use log.level instead',
      'config: log_format: is deprecated; use log.format instead',
    ]);
  });

  it('an OpenID Connect client\'s id, secret and description, in each list entry', () => {
    const { raw, problems } = migrateDeprecated({ identity_providers: { oidc: { access_token_lifespan: '1h', clients: [{ id: 'a', description: 'A' }, { client_id: 'b', secret: 's' }] } } });
    assert.deepEqual(raw, { identity_providers: { oidc: { lifespans: { access_token: '1h' }, clients: [{ client_id: 'a', client_name: 'A' }, { client_id: 'b', client_secret: 's' }] } } });
    assert.deepEqual(problems.map(renderProblem), [
      'config: identity_providers.oidc.clients[0].id: is deprecated; use identity_providers.oidc.clients[0].client_id instead',
      'config: identity_providers.oidc.clients[1].secret: is deprecated; use identity_providers.oidc.clients[1].client_secret instead',
      'config: identity_providers.oidc.clients[0].description: is deprecated; use identity_providers.oidc.clients[0].client_name instead',
      'config: identity_providers.oidc.access_token_lifespan: is deprecated; use identity_providers.oidc.lifespans.access_token instead',
    ]);
  });

  it('a key Authelia dropped is a warning; notifier.smtp.trusted_cert, which Authelia refuses, is an error', () => {
    const { problems } = migrateDeprecated({ authentication_backend: { ldap: { permit_feature_detection_failure: true } }, notifier: { smtp: { trusted_cert: '/ca.pem' } } });
    assert.deepEqual(problems.map(renderProblem), [
      "config: notifier.smtp.trusted_cert: is no longer read: certificates_directory replaced it (Authelia 4.25 replaced it and no longer reads it either; put the CA file in the directory certificates_directory names)",
      'config: authentication_backend.ldap.permit_feature_detection_failure: is deprecated and has no effect; remove it',
    ]);
  });
});

describe('notifier.smtp.host/port and storage.postgres.host/port become an address', () => {
  it("SMTP on 587 is submission:// (Authelia's scheme by port)", async () => {
    const { config, warnings } = await loadWith('smtp.yml', 'notifier:\n  smtp:\n    host: smtp.example.com\n    port: 587\n    sender: Auth <auth@example.com>\n');
    assert.equal(config.notifier?.smtp?.address, 'submission://smtp.example.com:587');
    assert.ok(warnings.includes("config: notifier.smtp.host: is deprecated; use notifier.smtp.address instead (read as notifier.smtp.address: 'submission://smtp.example.com:587')"), warnings.join('\n'));
  });

  it('PostgreSQL host and port; a socket directory becomes unix://', async () => {
    const loaded = t.load([await postgresFile('postgres.yml', '    host: db.internal\n    port: 5433\n')]);
    const [config, warnings] = [loaded.config, loaded.warnings.map(renderProblem)];
    assert.equal(config.storage.postgres?.address, 'tcp://db.internal:5433');
    assert.ok(warnings.includes("config: storage.postgres.port: is deprecated; use storage.postgres.address instead (read as storage.postgres.address: 'tcp://db.internal:5433')"), warnings.join('\n'));
    assert.deepEqual(migrateDeprecated({ storage: { postgres: { host: '/var/run/postgresql' } } }).raw, { storage: { postgres: { address: 'unix:///var/run/postgresql' } } });
  });

  it("storage.postgres.ssl mode 'disable' is no TLS, with a warning; a mode asking for TLS becomes a tls block, never dropped", async () => {
    const loaded = t.load([await postgresFile('ssl-disable.yml', '    ssl:\n      mode: disable\n')]);
    const [config, warnings] = [loaded.config, loaded.warnings.map(renderProblem)];
    assert.equal(config.storage.postgres?.tls, undefined);
    assert.ok(warnings.includes("config: storage.postgres.ssl: is deprecated; use storage.postgres.tls instead (mode 'disable': no TLS, as without a tls block)"), warnings.join('\n'));
    const full = t.load([await postgresFile('ssl-full.yml', '    sslmode: verify-full\n')]).config;
    assert.equal(full.storage.postgres?.tls?.skip_verify, false);
    const require = t.load([await postgresFile('ssl-require.yml', '    ssl:\n      mode: require\n')]).config;
    assert.equal(require.storage.postgres?.tls?.skip_verify, true);
  });

  it('the files storage.postgres.ssl names are not read, and each is said (certificates_directory and the tls PEM values replace them)', () => {
    const { raw, problems } = migrateDeprecated({ storage: { postgres: { ssl: { mode: 'require', root_certificate: '/ca.pem', certificate: '/c.pem', key: '/k.pem' } } } });
    // a root certificate makes `require` check the certificate, as Authelia does
    assert.deepEqual((raw as { storage: { postgres: { tls: unknown } } }).storage.postgres.tls, { skip_verify: false });
    assert.deepEqual(problems.map(renderProblem), [
      "config: storage.postgres.ssl: is deprecated; use storage.postgres.tls instead (mode 'require' read as a tls block: the certificate is checked, with the server's name)",
      'config: storage.postgres.ssl.root_certificate: is not read: put that CA file in the directory certificates_directory names, which every TLS connection trusts',
      'config: storage.postgres.ssl.certificate: is not read, and no client certificate is sent: set storage.postgres.tls.certificate_chain to the file\'s PEM text (\'{{ fileContent "<path>" }}\' with the template filter)',
      'config: storage.postgres.ssl.key: is not read, and no client certificate is sent: set storage.postgres.tls.private_key to the file\'s PEM text (\'{{ fileContent "<path>" }}\' with the template filter)',
    ]);
  });
});

describe('identity_providers.oidc.issuer_private_key and issuer_certificate_chain become jwks[0]', () => {
  it('the legacy key is the first signing key, with a warning naming jwks[0].key', () => {
    const { raw, problems } = migrateDeprecated({ identity_providers: { oidc: { issuer_private_key: '-----BEGIN PRIVATE KEY-----\nabc\n', issuer_certificate_chain: '-----BEGIN CERTIFICATE-----\nxyz\n' } } });
    assert.deepEqual((raw as { identity_providers: { oidc: { jwks: unknown } } }).identity_providers.oidc.jwks, [{ key: '-----BEGIN PRIVATE KEY-----\nabc\n', certificate_chain: '-----BEGIN CERTIFICATE-----\nxyz\n' }]);
    assert.deepEqual(problems.map(renderProblem), [
      'config: identity_providers.oidc.issuer_private_key: is deprecated; use identity_providers.oidc.jwks[0].key instead',
      'config: identity_providers.oidc.issuer_certificate_chain: is deprecated; use identity_providers.oidc.jwks[0].certificate_chain instead',
    ]);
  });

  it('beside jwks: refused', () => {
    const { problems } = migrateDeprecated({ identity_providers: { oidc: { issuer_private_key: 'k', jwks: [{ key: 'other' }] } } });
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.severity, 'error');
    assert.equal(problems[0]!.path, 'identity_providers.oidc.issuer_private_key');
  });
});
