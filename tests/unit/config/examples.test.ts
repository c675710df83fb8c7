import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { parse } from 'yaml';
import { compileAccessControl } from '../../../gateway/authz/rules.ts';
import { gatewayJsonSchema } from '../../../gateway/config/schema.ts';
import { FileUserProvider } from '../../../gateway/users/file-provider.ts';
import { repoPath } from '../../helpers/repo.ts';
import { makeConfigDir, type ConfigDir } from './config-files.ts';
import { generateSecret } from '../../../lib/secret-strength.ts';

const GATEWAY_EXAMPLE = repoPath('config', 'gateway.yml');
const USERS_EXAMPLE = repoPath('config', 'users.yml');

type Json = Record<string, unknown>;

/** Keys of `value` the JSON Schema does not declare, as config paths (an independent check of strictness). */
function undeclaredKeys(value: unknown, schema: Json, path: string): string[] {
  const variants = Array.isArray(schema.anyOf) ? (schema.anyOf as Json[]) : [schema];
  if (Array.isArray(value)) {
    const items = variants.find((v) => v.type === 'array')?.items as Json | undefined;
    return items ? value.flatMap((item, i) => undeclaredKeys(item, items, `${path}[${i}]`)) : [];
  }
  if (value === null || typeof value !== 'object') return [];
  const objectSchema = variants.find((v) => v.type === 'object');
  if (!objectSchema) return [path];
  const properties = (objectSchema.properties ?? {}) as Record<string, Json>;
  const additional = objectSchema.additionalProperties;
  return Object.entries(value).flatMap(([key, child]) => {
    const childPath = path === '' ? key : `${path}.${key}`;
    const childSchema = properties[key] ?? (typeof additional === 'object' && additional !== null ? (additional as Json) : undefined);
    return childSchema ? undeclaredKeys(child, childSchema, childPath) : [childPath];
  });
}

/** The commented-out block that starts with `  # <key>:`, uncommented. */
function uncommentBlock(text: string, key: string): string {
  const lines = text.split('\n');
  const start = lines.indexOf(`  # ${key}:`);
  assert.notEqual(start, -1, `config/gateway.yml has no commented '${key}:' block`);
  for (let i = start; i < lines.length && (i === start || /^ {2}# {3}\S/.test(lines[i]!)); i++) {
    lines[i] = lines[i]!.replace(/^ {2}# /, '  ');
  }
  return lines.join('\n');
}

let t: ConfigDir;
before(async () => {
  t = await makeConfigDir();
});
after(() => t.cleanup());

/** The secrets an operator adds as the example says: each in a file named by GATEHOUSE_<PATH>_FILE. */
let SECRETS: NodeJS.ProcessEnv;

describe('config/gateway.yml, the example users copy', () => {
  before(async () => {
    const secret = async (name: string) => t.write(name, `${generateSecret()}\n`);
    SECRETS = {
      GATEHOUSE_SESSION_SECRET_FILE: await secret('session_secret'),
      GATEHOUSE_STORAGE_ENCRYPTION_KEY_FILE: await secret('encryption_key'),
    };
  });

  it('refuses its placeholder secrets, naming each option and the command that makes a real one', () => {
    const problems = t.problems([GATEWAY_EXAMPLE]);
    assert.equal(problems.length, 2, problems.join('\n'));
    for (const [i, option] of ['session.secret', 'storage.encryption_key'].entries()) {
      assert.match(problems[i]!, new RegExp(`^config: ${option}: is a placeholder .*gatehouse crypto rand --length 64 --charset alphanumeric`));
    }
  });

  it('validates with the secrets in files named by GATEHOUSE_*_FILE, without warnings', () => {
    const { config, warnings } = t.load([GATEWAY_EXAMPLE], SECRETS);
    assert.deepEqual(warnings, []);
    assert.equal(config.session.cookies[0]?.domain, 'example.com');
    assert.equal(config.session.cookies[0]?.authelia_url, 'https://auth.example.com');
    assert.equal(config.session.redis, undefined, 'Redis is commented out');
    assert.equal(config.access_control.default_policy, 'deny');
  });

  it('declares no key the JSON Schema does not know', () => {
    const raw = parse(readFileSync(GATEWAY_EXAMPLE, 'utf8')) as unknown;
    assert.deepEqual(undeclaredKeys(raw, gatewayJsonSchema(), ''), []);
  });

  it('the Redis block validates once uncommented', async () => {
    const withRedis = await t.write('gateway-redis.yml', uncommentBlock(readFileSync(GATEWAY_EXAMPLE, 'utf8'), 'redis'));
    const { config } = t.load([withRedis], { ...SECRETS, GATEHOUSE_SESSION_REDIS_PASSWORD: generateSecret() });
    assert.equal(config.session.redis?.host, '127.0.0.1');
    assert.equal(config.session.redis?.port, 6379);
  });

  it('the SMTP block validates once uncommented in place of the filesystem notifier', async () => {
    const text = uncommentBlock(readFileSync(GATEWAY_EXAMPLE, 'utf8'), 'smtp').replace(/^ {2}filesystem:\n {4}filename: .*\n/m, '');
    const withSmtp = await t.write('gateway-smtp.yml', text);
    const { config, warnings } = t.load([withSmtp], { ...SECRETS, GATEHOUSE_NOTIFIER_SMTP_PASSWORD: generateSecret() });
    assert.deepEqual(warnings, []);
    assert.equal(config.notifier?.filesystem, undefined);
    assert.equal(config.notifier?.smtp?.address, 'submission://smtp.example.com:587');
    assert.equal(config.notifier?.smtp?.sender, 'Gatehouse <gatehouse@example.com>');
  });

  it('its rules give the public site, the admin app and the one-factor apps the intended policies', () => {
    const authorizer = compileAccessControl(t.load([GATEWAY_EXAMPLE], SECRETS).config.access_control);
    const policy = (url: string, subject: { username: string; groups: string[] } | null, ip?: string) => {
      const u = new URL(url);
      return authorizer.evaluate({ host: u.hostname, path: u.pathname, method: 'GET', ip }, subject).policy;
    };
    const alice = { username: 'alice', groups: ['admins'] };
    const bob = { username: 'bob', groups: ['family'] };
    assert.equal(policy('https://www.example.com/', null), 'bypass');
    assert.equal(policy('https://example.com/blog', null), 'bypass');
    assert.equal(policy('https://admin.example.com/', alice), 'two_factor');
    assert.equal(policy('https://admin.example.com/', bob), 'deny');
    assert.equal(policy('https://cloud.example.com/s/AbC123', null), 'bypass');
    assert.equal(policy('https://cloud.example.com/apps/files/', bob), 'one_factor');
    assert.equal(policy('https://proxmox.example.com/', bob, '192.168.1.20'), 'one_factor');
    assert.equal(policy('https://proxmox.example.com/', bob, '203.0.113.9'), 'two_factor');
    assert.equal(policy('https://grafana.example.com/', bob), 'one_factor');
    assert.equal(policy('https://example.org/', bob), 'deny');
  });
});

describe('config/users.yml, the example users file', () => {
  it('loads, with one user whose placeholder hash matches no password', async () => {
    const provider = await FileUserProvider.open({ path: USERS_EXAMPLE, watch: false, logger: pino({ level: 'silent' }) });
    try {
      assert.deepEqual(provider.listUsers().map((u) => [u.username, u.groups, u.disabled]), [['alice', ['admins'], false]]);
      for (const guess of ['password', 'changeme', 'REPLACE-ME-SALT!']) {
        assert.equal(await provider.verifyPassword('alice', guess), null, `'${guess}' must not log in`);
      }
    } finally {
      await provider.close();
    }
  });

  it("tells the reader about 'gatehouse hash-password'", () => {
    assert.match(readFileSync(USERS_EXAMPLE, 'utf8'), /^# .*gatehouse hash-password/m);
  });
});
