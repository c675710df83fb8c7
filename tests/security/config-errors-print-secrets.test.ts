// A configuration error goes to stderr, the journal and CI logs. A secret written with the wrong type
// (a number or a boolean, as YAML reads an all-digit password) must not be printed there, and a long
// value (a pasted key or certificate) is cut rather than repeated whole.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createConfigLoader } from '../../lib/config-loader.ts';
import { makeConfigDir, MINIMAL_CONFIG, type ConfigDir } from '../unit/config/config-files.ts';
import { ConfigError } from '../../lib/errors.ts';
import { z } from 'zod';

let t: ConfigDir;
before(async () => {
  t = await makeConfigDir();
});
after(() => t.cleanup());

const POSTGRES = (password: string) => MINIMAL_CONFIG.replace(
  "  local:\n    path: '{dir}/db.sqlite3'\n",
  `  postgres:\n    address: tcp://127.0.0.1:5432\n    database: gatehouse\n    username: gatehouse\n    password: ${password}\n`,
);

describe('a secret of the wrong type is named by its type only, never by its value', () => {
  it('a numeric PostgreSQL password: the option and the type, not the digits', async () => {
    const file = await t.write('numeric-password.yml', POSTGRES('84731902655'));
    const problems = t.problems([file]);
    assert.deepEqual(problems, ['config: storage.postgres.password: must be a string, not a number']);
  });

  it('a boolean or numeric secret anywhere: session.secret, the Redis password, storage.encryption_key', async () => {
    const file = await t.write('typed-secrets.yml', `
authentication_backend:
  file:
    path: '{dir}/users.yml'
access_control:
  default_policy: one_factor
session:
  secret: true
  cookies:
    - domain: example.com
      authelia_url: https://auth.example.com
  redis:
    host: 127.0.0.1
    password: 27182818284590
storage:
  encryption_key: 31415926535897932384
  local:
    path: '{dir}/db.sqlite3'
`);
    const problems = t.problems([file]);
    for (const problem of problems) assert.doesNotMatch(problem, /31415926535|27182818284590|true/, problem);
    assert.ok(problems.includes('config: session.secret: must be a string, not a boolean'), problems.join('\n'));
    assert.ok(problems.includes('config: session.redis.password: must be a string, not a number'), problems.join('\n'));
    assert.ok(problems.includes('config: storage.encryption_key: must be a string, not a number'), problems.join('\n'));
  });

  it('in any service the shared loader serves, in a union too', () => {
    const loader = createConfigLoader({
      schema: z.strictObject({ api_token: z.string(), mode: z.union([z.literal('a'), z.literal('b')]).optional() }),
      jsonSchema: () => ({}),
      envPrefix: 'X_',
      foreignEnv: [],
      notSecrets: [],
      schemaFile: 'x.json',
      validate: () => [],
    });
    assert.throws(() => loader.parse({ api_token: 9876543210987 }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, ['config: api_token: must be a string, not a number']);
      return true;
    });
    const unionLoader = createConfigLoader({
      schema: z.strictObject({ client_secret: z.union([z.string().min(30), z.strictObject({ path: z.string() })]) }),
      jsonSchema: () => ({}),
      envPrefix: 'X_',
      foreignEnv: [],
      notSecrets: [],
      schemaFile: 'x.json',
      validate: () => [],
    });
    assert.throws(() => unionLoader.parse({ client_secret: 12345678901234 }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      for (const problem of error.problems) assert.doesNotMatch(problem, /12345678901234/, problem);
      return true;
    });
  });
});

describe('a long value is cut in a message, not repeated whole', () => {
  it('a pasted blob where a number belongs', async () => {
    const blob = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7'.repeat(8);
    const file = await t.write('long-value.yml', `${MINIMAL_CONFIG}\nregulation:\n  max_retries: ${blob}\n`);
    const [problem = '', ...rest] = t.problems([file]);
    assert.deepEqual(rest, []);
    assert.match(problem, /^config: regulation\.max_retries: must be a number, not string "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC[^"]*…"$/);
    assert.ok(problem.length < 160, problem);
    assert.ok(!problem.includes(blob), problem);
  });
});
