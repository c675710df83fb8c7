// One password policy everywhere a new password is chosen: first-run setup in the portal,
// `gatehouse users add`, and the monitor's setup all refuse the same weak password with the same
// sentence, under Gatehouse's default and under a configured password_policy.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import type { CliIO } from '../../lib/cli-io.ts';
import { createPasswordPolicy } from '../../lib/password-policy.ts';
import { gatewayConfigSchema } from '../../gateway/config/schema.ts';
import { runUsers } from '../../gateway/users/cli.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { portal, PORTAL_ORIGIN, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { PASSWORD, startAuthServer, type AuthServer } from './monitor-auth-harness.ts';

const FAST_ARGON2 = { iterations: 1, memory: 1024, parallelism: 1, key_length: 32, salt_length: 16 };
const ACCESS_CONTROL = { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] };

async function setupPageAlert(gw: InProcessGateway, username: string, password: string): Promise<string> {
  const token = new URL(gw.gateway.setupUrl()!).searchParams.get('token')!;
  const answer = await portal(gw, '/setup', {
    method: 'POST',
    body: new URLSearchParams({ token, username, password, confirm: password }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: PORTAL_ORIGIN },
  });
  assert.equal(answer.status, 400);
  const alert = /role="alert"[^>]*>([^<]*)</.exec(answer.body);
  assert.ok(alert, 'the form shows an alert');
  return alert[1]!.replace(/\.$/, '');
}

async function cliRefusal(dir: string, passwordPolicy: unknown, username: string, password: string): Promise<string> {
  const stdin = new PassThrough();
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  stdin.end(`${password}\n`);
  const io: CliIO = { stdin, stdout: new PassThrough(), stderr, isTTY: false };
  // the policy as `gatehouse users` builds it from the configuration it is given
  const config = gatewayConfigSchema.shape.password_policy.parse(passwordPolicy);
  const code = await runUsers(['add', username, '--password-stdin'], io, { path: join(dir, 'users.yml'), argon2: FAST_ARGON2, passwordPolicy: createPasswordPolicy(config) });
  assert.equal(code, 1);
  return /^gatehouse users add: (.*); nothing was changed\n$/.exec(err)?.[1] ?? err;
}

async function monitorRefusal(server: AuthServer, username: string, password: string): Promise<string> {
  const reply = await server.send('/api/auth/setup', { json: { username, password, setup_code: await server.setupCode() } });
  assert.equal(reply.status, 400);
  return reply.json.error as string;
}

for (const [name, passwordPolicy, cases] of [
  ["Gatehouse's default (no password_policy)", undefined, [
    ['root', 'short', 'Password must be at least 10 characters long'],
    ['root', 'Password123', 'Password is too common; choose a less predictable one'],
    ['operator-1', 'Operator-1', 'Password must not be the username'],
  ]],
  ['password_policy.standard with require_special', { standard: { enabled: true, min_length: 12, require_special: true } }, [
    ['root', 'elevenchars', 'Password must be at least 12 characters long'],
    ['root', 'NoSymbolsAtAll2026', 'Password must contain a symbol (anything but a letter or a digit); it has no symbol (anything but a letter or a digit)'],
  ]],
] as const) {
  describe(`one password policy: ${name}`, () => {
    let gw: InProcessGateway;
    let monitor: AuthServer;
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    before(async () => {
      const policy = passwordPolicy === undefined ? {} : { password_policy: passwordPolicy };
      gw = await startInProcessGateway({ config: { access_control: ACCESS_CONTROL, ...policy } }); // no users yet: setup is open
      monitor = await startAuthServer({ config: policy });
      temp = await makeTempDir('gatehouse-policy-');
    });
    after(async () => {
      await gw?.close();
      await monitor?.close();
      await temp?.cleanup();
    });

    it('the setup form states the rule and sets minlength from it', async () => {
      const token = new URL(gw.gateway.setupUrl()!).searchParams.get('token')!;
      const page = await portal(gw, `/setup?token=${token}`);
      const rule = passwordPolicy === undefined ? ['at least 10 characters', '10'] : ['at least 12 characters, with a symbol (anything but a letter or a digit)', '12'];
      assert.match(page.body, new RegExp(`<label for="password">Password \\(${rule[0]!.replace(/[()]/g, '\\$&')}\\)</label>`));
      assert.match(page.body, new RegExp(`id="password"[^>]*minlength="${rule[1]}"`));
    });

    for (const [username, password, message] of cases) {
      it(`setup, 'gatehouse users add' and the monitor all refuse '${password}': ${message}`, async () => {
        assert.equal(await setupPageAlert(gw, username, password), message);
        assert.equal(await cliRefusal(temp.dir, passwordPolicy, username, password), message);
        assert.equal(await monitorRefusal(monitor, username, password), message);
      });
    }
  });
}

describe("password policy from the monitor's password_policy (Authelia's standard keys)", () => {
  let server: AuthServer;
  before(async () => (server = await startAuthServer({ config: { password_policy: { standard: { enabled: true, min_length: 12, require_uppercase: true, require_number: true } } } })));
  after(() => server.close());

  for (const [password, message] of [
    ['Short-1', 'Password must be at least 12 characters long'],
    ['alllowercaseletters', 'Password must contain an uppercase letter and a digit; it has no uppercase letter and digit'],
    ['lowercase1234', 'Password must contain an uppercase letter and a digit; it has no uppercase letter'],
  ] as const) {
    it(`setup refuses '${password}': ${message}`, async () => {
      const reply = await server.send('/api/auth/setup', { json: { username: 'admin', password, setup_code: await server.setupCode() } });
      assert.equal(reply.status, 400);
      assert.equal(reply.json.error, message);
    });
  }

  it('change-password follows it too', async () => {
    const session = await server.setup();
    const reply = await server.send('/api/auth/change-password', { token: session, json: { old_password: PASSWORD, new_password: 'no-digits-Here' } });
    assert.equal(reply.status, 400);
    assert.equal(reply.json.message, 'Password must contain an uppercase letter and a digit; it has no digit');
  });
});
