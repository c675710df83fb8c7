import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { renderProblem } from '../../../lib/config-problems.ts';
import { repoPath } from '../../helpers/repo.ts';
import { makeConfigDir, MINIMAL_CONFIG, type ConfigDir } from './config-files.ts';

const AUTHELIA_FILE = repoPath('tests', 'fixtures', 'authelia-configuration.yml');

let t: ConfigDir;
before(async () => {
  t = await makeConfigDir();
});
after(() => t.cleanup());

describe("an Authelia configuration.yml for the supported features loads unchanged", () => {
  it('validates with no problems and no warnings', () => {
    const { warnings } = t.load([AUTHELIA_FILE]);
    assert.deepEqual(warnings, []);
  });

  it('server, theme and log keep their values', () => {
    const { config } = t.load([AUTHELIA_FILE]);
    assert.equal(config.theme, 'auto');
    assert.equal(config.server.address, 'tcp://:9091/');
    assert.deepEqual(config.log, { level: 'info', format: 'text', file_path: '/config/authelia.log', keep_stdout: true });
  });

  it('authentication_backend.file with its argon2 block', () => {
    const backend = t.load([AUTHELIA_FILE]).config.authentication_backend;
    assert.equal(backend.password_reset.disable, false);
    assert.equal(backend.refresh_interval, 300);
    assert.deepEqual(backend.file, {
      path: '/config/users_database.yml',
      watch: true,
      search: { email: true, case_insensitive: true },
      extra_attributes: {},
      password: {
        algorithm: 'argon2',
        argon2: { variant: 'argon2id', iterations: 3, memory: 65536, parallelism: 4, key_length: 32, salt_length: 16 },
        // Gatehouse's own, on by default: legacy hashes become argon2id at the next login
        rehash_on_login: true,
      },
    });
  });

  it('access_control: named networks (list or single value) and rules with every criterion', () => {
    const acl = t.load([AUTHELIA_FILE]).config.access_control;
    assert.equal(acl.default_policy, 'deny');
    assert.deepEqual(acl.networks, [
      { name: 'internal', networks: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] },
      { name: 'vpn', networks: ['10.9.0.0/16'] },
    ]);
    assert.equal(acl.rules.length, 7);
    assert.deepEqual(acl.rules[0], { domain: ['www.home.example.com'], policy: 'bypass' });
    assert.deepEqual(acl.rules[1], { domain: ['status.home.example.com'], resources: ['^/api/health$'], methods: ['GET', 'HEAD'], policy: 'bypass' });
    assert.deepEqual(acl.rules[2], {
      domain: ['portainer.home.example.com', 'traefik.home.example.com'],
      subject: ['group:admins'],
      policy: 'two_factor',
    });
    assert.deepEqual(acl.rules[4], { domain: ['pve.home.example.com'], networks: ['internal', 'vpn'], policy: 'one_factor' });
    assert.deepEqual(acl.rules[5], {
      domain: ['cloud.home.example.com'],
      subject: ['group:family', ['user:john', 'group:nextcloud']],
      policy: 'one_factor',
    });
    assert.deepEqual(acl.rules[6], { domain: ['*.home.example.com'], policy: 'two_factor' });
  });

  it('session: durations in seconds, cookies[] with authelia_url, and redis', () => {
    const session = t.load([AUTHELIA_FILE]).config.session;
    assert.equal(session.name, 'authelia_session');
    assert.equal(session.same_site, 'lax');
    assert.equal(session.expiration, 3600);
    assert.equal(session.inactivity, 300);
    assert.equal(session.remember_me, 30 * 86_400);
    assert.deepEqual(session.cookies, [
      {
        domain: 'home.example.com',
        authelia_url: 'https://auth.home.example.com',
        default_redirection_url: 'https://www.home.example.com',
        name: 'authelia_session',
        same_site: 'lax',
        expiration: 3600,
        inactivity: 300,
        remember_me: 86_400,
      },
    ]);
    assert.equal(session.secret, 'Kd8wQ3nVz7LrT2pYx6HmB9cJf4GsA5tE');
    assert.deepEqual(session.redis, {
      host: 'redis',
      port: 6379,
      password: 'r3D7sPw9QkZ2vLx8NtYb',
      database_index: 0,
      maximum_active_connections: 8,
      minimum_idle_connections: 0,
      timeout: 5,
      command_timeout: 500, // Gatehouse's own, default 500ms (issue 7 item 12)
    });
  });

  it('regulation, storage.local and notifier.smtp', () => {
    const { regulation, storage, notifier } = t.load([AUTHELIA_FILE]).config;
    assert.deepEqual(regulation, { modes: ['user'], max_retries: 3, find_time: 120, ban_time: 300 });
    assert.deepEqual(storage, { encryption_key: 'Mv6nC2xZq9LwR4tYp8HbJ3dK7fGs5AeU', local: { path: '/config/db.sqlite3' } });
    assert.equal(notifier?.disable_startup_check, false);
    assert.equal(notifier?.filesystem, undefined);
    assert.deepEqual(notifier?.smtp, {
      address: 'submission://smtp.gmail.com:587',
      timeout: 5,
      username: 'authelia@example.com',
      password: 'qzvt mwkr hpla xneb',
      sender: 'Authelia <authelia@example.com>',
      identifier: 'localhost',
      subject: '[Authelia] {title}',
      startup_check_address: 'test@authelia.com',
      disable_require_tls: false,
      disable_starttls: false,
      disable_html_emails: false,
    });
  });

  it('a minimal Authelia setup with the filesystem notifier', async () => {
    const file = await t.write('authelia-minimal.yml', `
theme: light
log:
  level: debug
authentication_backend:
  file:
    path: /config/users.yml
session:
  cookies:
    - domain: example.com
      authelia_url: https://authelia.example.com
notifier:
  filesystem:
    filename: /config/emails.txt
access_control:
  default_policy: deny
  rules:
    - domain: public.example.com
      policy: bypass
    - domain: secure.example.com
      policy: two_factor
storage:
  encryption_key: Zr5Nw8Qp2Lt7Vx3Hc9Jb4Kd6Fg1Sm0AeTyUi!
  local:
    path: /config/db.sqlite3
`);
    const { config, warnings } = t.load([file]);
    // the one warning: reset is on, and the filesystem notifier would never deliver its link
    assert.deepEqual(warnings.map((w) => w.path), ['notifier.filesystem']);
    assert.deepEqual(config.notifier, { disable_startup_check: false, filesystem: { filename: '/config/emails.txt' } });
    assert.equal(config.session.cookies[0]?.authelia_url, 'https://authelia.example.com');
  });
});

describe("GATEHOUSE_* variables override an Authelia file, as AUTHELIA_* ones would", () => {
  it('GATEHOUSE_SESSION_REDIS_PASSWORD replaces the password from the file', () => {
    const { config } = t.load([AUTHELIA_FILE], { GATEHOUSE_SESSION_REDIS_PASSWORD: 'from-the-environment' });
    assert.equal(config.session.redis?.password, 'from-the-environment');
  });
});

describe('session.cookies[].portal_url is an alias of authelia_url', () => {
  it('portal_url alone is accepted', async () => {
    const file = await t.write('portal-url.yml', MINIMAL_CONFIG.replace('authelia_url:', 'portal_url:'));
    const cookie = t.load([file]).config.session.cookies[0];
    assert.equal(cookie?.portal_url, 'https://auth.example.com');
    assert.equal(cookie?.authelia_url, undefined);
  });

  it('portal_url is checked like authelia_url (https, inside the cookie domain)', async () => {
    const file = await t.write('portal-url-http.yml', MINIMAL_CONFIG.replace('authelia_url: https://auth.example.com', 'portal_url: http://auth.example.org'));
    const problems = t.problems([file]);
    assert.ok(problems.some((p) => /must use https/.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /is not 'example\.com' or below it/.test(p)), problems.join('\n'));
  });

  it('both set to the same URL is fine', async () => {
    const file = await t.write('both-same.yml', MINIMAL_CONFIG.replace(
      'authelia_url: https://auth.example.com',
      'authelia_url: https://auth.example.com\n      portal_url: https://auth.example.com',
    ));
    assert.deepEqual(t.load([file]).warnings, []);
  });

  it('both set to different URLs is an error', async () => {
    const file = await t.write('both-differ.yml', MINIMAL_CONFIG.replace(
      'authelia_url: https://auth.example.com',
      'authelia_url: https://auth.example.com\n      portal_url: https://login.example.com',
    ));
    assert.deepEqual(t.problems([file]), [
      "config: session.cookies[0]: 'authelia_url' and 'portal_url' are the same option; set only one",
    ]);
  });
});

describe('Authelia keys of supported features written the template way', () => {
  it("notifier.smtp.tls (server_name, skip_verify, minimum_version)", async () => {
    const file = await t.write('smtp-tls.yml', 'notifier:\n  smtp:\n    tls:\n      server_name: smtp.gmail.com\n      skip_verify: false\n      minimum_version: TLS1.2\n');
    assert.equal(t.load([AUTHELIA_FILE, file]).config.notifier?.smtp?.sender, 'Authelia <authelia@example.com>');
  });

  it("durations written as in Authelia's template ('2 minutes', '1 hour', '1 month')", async () => {
    const file = await t.write('long-durations.yml', "regulation:\n  find_time: '2 minutes'\n  ban_time: '5 minutes'\nsession:\n  expiration: '1 hour'\n  remember_me: '1 month'\n");
    const { config } = t.load([AUTHELIA_FILE, file]);
    assert.equal(config.regulation.find_time, 120);
    assert.equal(config.session.remember_me, 30 * 86_400);
  });
});

describe('Authelia sections for features Gatehouse does not have yet', () => {
  it('load, and each is named in a warning instead of silently applying', async () => {
    const file = await t.write(
      'pending.yml',
      [
        'totp: { issuer: example.com }',
        'webauthn: { display_name: Example }',
        'identity_validation: { reset_password: { jwt_secret: Wn4Tz8Qr2Lp6Vx9Hc3Jb7Kd5FgSmAe } }',
        'identity_providers: { oidc: { hmac_secret: x } }',
        'server: { timeouts: { read: 6s } }',
        'authentication_backend: { file: { password: { scrypt: { iterations: 16 } } } }',
      ].join('\n'),
    );
    const warnings = t.load([AUTHELIA_FILE, file]).warnings.map(renderProblem);
    assert.ok(warnings.some((w) => w.startsWith('config: server.timeouts: is an Authelia option Gatehouse does not implement yet')), warnings.join(' | '));
    // Authelia's settings for writing another algorithm: Gatehouse writes argon2id, and says so
    assert.ok(warnings.includes(
      'config: authentication_backend.file.password.scrypt: Gatehouse writes argon2id (with the argon2 settings); this setting only applies to Authelia writing scrypt hashes, and is ignored',
    ), warnings.join(' | '));
    // identity_providers is read, validated and served: no warning names it
    assert.ok(!warnings.some((w) => w.startsWith('config: identity_providers')), warnings.join(' | '));
  });

  it("identity_providers.oidc in Authelia's keys loads, and a client's bad redirect URI stops the start", async () => {
    const ok = await t.write(
      'oidc.yml',
      [
        'identity_providers:',
        '  oidc:',
        '    hmac_secret: Wn4Tz8Qr2Lp6Vx9Hc3Jb7Kd5FgSmAeWn4Tz8Qr2Lp6Vx9Hc3Jb7Kd5FgSmAe',
        '    lifespans: { access_token: 1h, custom: { short: { access_token: 5m } } }',
        '    authorization_policies: { admins: { default_policy: deny, rules: [{ policy: two_factor, subject: "group:admins" }] } }',
        '    clients:',
        '      - client_id: nextcloud',
        '        client_name: NextCloud',
        "        client_secret: '$pbkdf2-sha512$310000$c8p78n7pUMln0jzvd4aK4Q$JNRBzwAo0ek5qKn50cFzzvE9RXV88h1wJn5KGiHrD0YKtZaR/nCb2CJPOsKaPK0hjf.9yHxzQGZziziccp6Yng'",
        '        public: false',
        '        authorization_policy: admins',
        '        lifespan: short',
        '        require_pkce: true',
        '        pkce_challenge_method: S256',
        '        redirect_uris: [https://nextcloud.example.com/apps/oidc_login/oidc]',
        '        scopes: [openid, profile, email, groups]',
        '        userinfo_signed_response_alg: none',
        '        token_endpoint_auth_method: client_secret_basic',
      ].join('\n'),
    );
    const loaded = t.load([AUTHELIA_FILE, ok]);
    assert.equal(loaded.config.identity_providers!.oidc!.clients[0]!.client_id, 'nextcloud');
    const bad = await t.write('oidc-bad.yml', 'identity_providers: { oidc: { clients: [{ client_id: a, client_secret: "$plaintext$x", redirect_uris: ["https://*.example.com/cb"] }] } }');
    assert.throws(() => t.load([AUTHELIA_FILE, bad]), /identity_providers\.oidc\.clients\[0\]\.redirect_uris\[0\]: https:\/\/\*\.example\.com\/cb has a wildcard/);
  });

  it('the second-factor sections are implemented now: read in Authelia\'s keys, no warning', async () => {
    const file = await t.write(
      'second-factor.yml',
      [
        'totp: { issuer: example.com, algorithm: sha256, digits: 8 , allowed_algorithms: [SHA256], allowed_digits: [8] }',
        'webauthn: { display_name: Example, timeout: 90s }',
        'identity_validation: { reset_password: { jwt_secret: Wn4Tz8Qr2Lp6Vx9Hc3Jb7Kd5FgSmAe }, elevated_session: { code_lifespan: 10m } }',
      ].join('\n'),
    );
    const { config, warnings } = t.load([AUTHELIA_FILE, file]);
    assert.deepEqual([config.totp.issuer, config.totp.algorithm, config.totp.digits], ['example.com', 'SHA256', 8]);
    assert.deepEqual([config.webauthn.display_name, config.webauthn.timeout], ['Example', 90]);
    assert.equal(config.identity_validation.elevated_session.code_lifespan, 600);
    const rendered = warnings.map(renderProblem);
    for (const key of ['totp', 'webauthn', 'identity_validation']) {
      assert.ok(!rendered.some((w) => w.startsWith(`config: ${key}: is an Authelia option`)), `${key} still warned: ${rendered.join(' | ')}`);
    }
  });

  it('keys that are neither ours nor Authelia\'s are still errors', async () => {
    const file = await t.write('typo.yml', 'totpp: { issuer: example.com }\n');
    assert.deepEqual(t.problems([AUTHELIA_FILE, file]), ['config: totpp: unknown key; check its spelling against config/gatehouse.schema.json']);
  });
});
