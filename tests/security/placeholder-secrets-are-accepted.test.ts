// Anyone who can read the Redis data can forge session cookies when session.secret is a shipped or
// documented placeholder, or short or predictable. Such secrets, and placeholders in every other secret
// option, are refused at load time with the option and the command that makes a good one.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { minimumLength } from '../../gateway/cli/crypto.ts';
import { CHARSETS, drawSecret, generateSecret, randomString, weakSecretReason, type Charset } from '../../lib/secret-strength.ts';
import { AuthStore } from '../../monitor/auth/store.ts';
import { runGatehouse, type CliRun } from '../helpers/cli.ts';
import { repoPath } from '../helpers/repo.ts';
import { makeConfigDir, MINIMAL_CONFIG, type ConfigDir } from '../unit/config/config-files.ts';

const COMMAND = 'gatehouse crypto rand --length 64 --charset alphanumeric';
const STRONG = 'Rk4Vn9Zq2Wt7Lx3Hc8Jb5Pd6Fg1Sm0Ae';

function gatehouse(argv: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return runGatehouse(argv, env);
}

let t: ConfigDir;
let base: string;
before(async () => {
  t = await makeConfigDir();
  base = await t.write('base.yml', MINIMAL_CONFIG);
});
after(() => t.cleanup());

/** The problem lines for `option` when the configuration is loaded with these overrides. */
function problemsFor(option: string, env: NodeJS.ProcessEnv): string[] {
  return t.problems([base], env).filter((p) => p.startsWith(`config: ${option}: `));
}

describe('the shipped example and the Authelia documentation placeholders are refused', () => {
  it('config/gateway.yml as shipped: session.secret and storage.encryption_key, each naming the command', () => {
    const problems = t.problems([repoPath('config', 'gateway.yml')]);
    assert.deepEqual(problems.map((p) => p.split(':')[1]!.trim()), ['session.secret', 'storage.encryption_key']);
    for (const problem of problems) {
      assert.match(problem, /is a placeholder \(it contains 'changeme'\), not a secret/);
      assert.ok(problem.includes(COMMAND), problem);
    }
  });

  for (const [option, variable, value] of [
    ['session.secret', 'GATEHOUSE_SESSION_SECRET', 'insecure_session_secret'],
    ['session.secret', 'GATEHOUSE_SESSION_SECRET', 'CHANGE-ME-session-secret-openssl-rand-hex-32'],
    ['storage.encryption_key', 'GATEHOUSE_STORAGE_ENCRYPTION_KEY', 'you_must_generate_a_random_string_of_more_than_twenty_chars'],
    ['storage.encryption_key', 'GATEHOUSE_STORAGE_ENCRYPTION_KEY', 'a_very_important_secret'],
    ['storage.encryption_key', 'GATEHOUSE_STORAGE_ENCRYPTION_KEY', 'ChangeMe-0123456789-QWERTY'],
  ] as const) {
    it(`${option} = '${value}' is refused`, () => {
      const problems = problemsFor(option, { [variable]: value });
      assert.equal(problems.length, 1, `accepted: ${value}`);
      assert.match(problems[0]!, /is a placeholder/);
      assert.ok(problems[0]!.includes(COMMAND) && problems[0]!.includes(`${variable}_FILE`), problems[0]!);
    });
  }

  for (const [option, variable] of [
    ['session.redis.password', 'GATEHOUSE_SESSION_REDIS_PASSWORD'],
    ['storage.postgres.password', 'GATEHOUSE_STORAGE_POSTGRES_PASSWORD'],
  ] as const) {
    it(`${option}: the shipped 'CHANGE-ME-…' placeholder is refused too`, () => {
      const env = { GATEHOUSE_SESSION_SECRET: STRONG, GATEHOUSE_SESSION_REDIS_HOST: 'redis', GATEHOUSE_STORAGE_POSTGRES_DATABASE: 'g', GATEHOUSE_STORAGE_POSTGRES_USERNAME: 'g', [variable]: 'CHANGE-ME-password' };
      const problems = problemsFor(option, env);
      assert.equal(problems.length, 1, t.problems([base], env).join('\n'));
      assert.ok(problems[0]!.includes(COMMAND));
    });
  }
});

describe('short and predictable secrets are refused', () => {
  for (const [why, value] of [
    ['19 characters', 'Rk4Vn9Zq2Wt7Lx3Hc8J'],
    ['one character repeated', 'a'.repeat(40)],
    ['a repeated pattern', '0123456789abcdef0123456789abcdef'],
    ['too few distinct characters', 'abcabcabcabcabcabcabcabcxyz'],
  ] as const) {
    it(`session.secret and storage.encryption_key: ${why}`, () => {
      for (const [option, variable] of [['session.secret', 'GATEHOUSE_SESSION_SECRET'], ['storage.encryption_key', 'GATEHOUSE_STORAGE_ENCRYPTION_KEY']] as const) {
        const problems = problemsFor(option, { [variable]: value });
        assert.equal(problems.length, 1, `${option} accepted '${value}'`);
        assert.ok(problems[0]!.includes(COMMAND), problems[0]!);
      }
    });
  }

  it('a secret read from GATEHOUSE_*_FILE is judged the same', async () => {
    const file = join(t.dir, 'weak_secret');
    await writeFile(file, 'CHANGE-ME-please-0123456789\n');
    assert.equal(problemsFor('session.secret', { GATEHOUSE_SESSION_SECRET_FILE: file }).length, 1);
  });

  it('a strong random value is accepted', () => {
    const { config } = t.load([base], { GATEHOUSE_SESSION_SECRET: STRONG });
    assert.equal(config.session.secret, STRONG);
  });
});

describe('the embedded defaults (gatehouse start) refuse a weakened secrets.json', () => {
  it('a placeholder put into data/secrets.json stops the start, naming the option', async () => {
    const data = join(t.dir, 'data');
    await mkdir(data, { recursive: true, mode: 0o700 });
    await writeFile(join(data, 'secrets.json'), JSON.stringify({ session_secret: 'CHANGE-ME-session-secret-0123', storage_encryption_key: STRONG }), { mode: 0o600 });
    const r = await gatehouse(['config', 'validate'], { GATEHOUSE_DATA: data });
    assert.equal(r.code, 2);
    assert.match(r.err, /^config: session\.secret: is a placeholder/m);
  });
});

describe("the monitor's jwt_secret in auth.json", () => {
  it('a placeholder or a pattern, however long, is replaced by a random one (and the change is reported)', async () => {
    for (const weak of ['CHANGE-ME-jwt-secret-'.padEnd(80, '0123456789'), 'ab'.repeat(40)]) {
      const dir = join(t.dir, `monitor-${weak.length}-${weak.slice(0, 2)}`);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'auth.json'), JSON.stringify({ enabled: false, jwt_secret: weak }), { mode: 0o600 });
      const reasons: string[] = [];
      const state = await new AuthStore({ dataDir: dir, onSecretGenerated: (reason) => void reasons.push(reason) }).read();
      assert.notEqual(state.jwt_secret, weak);
      assert.ok(state.jwt_secret.length >= 64);
      assert.deepEqual(reasons, ['weak']);
    }
  });
});

describe('gatehouse crypto rand', () => {
  it('prints a secret the checks accept: 64 alphanumeric characters by default', async () => {
    const r = await gatehouse(['crypto', 'rand'], {});
    assert.equal(r.code, 0, r.err);
    const value = r.out.trimEnd();
    assert.match(value, /^[A-Za-z0-9]{64}$/);
    assert.equal(t.load([base], { GATEHOUSE_SESSION_SECRET: value, GATEHOUSE_STORAGE_ENCRYPTION_KEY: value }).config.session.secret, value);
  });

  it('takes --length and --charset as Authelia does, and refuses a length too short to be a secret', async () => {
    const hex = await gatehouse(['crypto', 'rand', '--length', '40', '--charset', 'hexadecimal'], {});
    assert.match(hex.out, /^[0-9a-f]{40}\n$/);
    const short = await gatehouse(['crypto', 'rand', '--length', '8'], {});
    assert.equal(short.code, 2);
    assert.match(short.err, /--length must be a whole number from 20 to 4096/);
  });

  it('--help says what it is for', async () => {
    const r = await gatehouse(['crypto', 'rand', '--help'], {});
    assert.equal(r.code, 0);
    assert.match(r.out, /session\.secret, storage\.encryption_key/);
  });
});

/** A deterministic stand-in for the CSPRNG (SHA-256 in counter mode): the same draws every run. */
function seededRandom(seed: string): { bytes: (size: number) => Buffer; int: (max: number) => number } {
  let counter = 0;
  let pool = Buffer.alloc(0);
  const bytes = (size: number) => {
    while (pool.length < size) pool = Buffer.concat([pool, createHash('sha256').update(`${seed}:${counter++}`).digest()]);
    const out = Buffer.from(pool.subarray(0, size));
    pool = pool.subarray(size);
    return out;
  };
  const int = (max: number) => {
    const limit = Math.floor(2 ** 32 / max) * max; // unbiased, as crypto.randomInt
    for (;;) {
      const value = bytes(4).readUInt32BE(0);
      if (value < limit) return value % max;
    }
  };
  return { bytes, int };
}

/** `gatehouse crypto rand …` in a child process, so a CLI that never returns fails the test instead of hanging it. */
function cryptoRandProcess(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [repoPath('bin', 'gatehouse.ts'), 'crypto', 'rand', ...args], { encoding: 'utf8', timeout: 15_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('runs, repeats and keyboard walks are refused however many distinct characters they have', () => {
  for (const value of ['abcdefghijklmnopqrstuvwxyz', 'qwertyuiopasdfghjklz', '123456789012345678901', 'aaaaaaaaaaaaaaaaaaaaabcdefghij', 'abcdefghij          ', 'ZYXWVUTSRQPONMLKJIHGFEDCBA']) {
    it(`session.secret and storage.encryption_key: '${value}'`, () => {
      for (const [option, variable] of [['session.secret', 'GATEHOUSE_SESSION_SECRET'], ['storage.encryption_key', 'GATEHOUSE_STORAGE_ENCRYPTION_KEY']] as const) {
        const problems = problemsFor(option, { [variable]: value });
        assert.equal(problems.length, 1, `${option} accepted '${value}'`);
        assert.match(problems[0]!, /is too predictable/);
        assert.ok(problems[0]!.includes(COMMAND), problems[0]!);
      }
    });
  }
});

describe('what Gatehouse generates always passes its own check', () => {
  const DRAWS = 3000;
  it(`${DRAWS} draws of 64 alphanumeric characters (crypto rand's default), taken as drawn`, () => {
    const random = seededRandom('alphanumeric-64');
    for (let i = 0; i < DRAWS; i++) {
      const value = randomString(64, CHARSETS.alphanumeric, random.int);
      assert.equal(weakSecretReason(value, 20), null, value);
    }
  });

  it(`${DRAWS} generated secrets (base64url of 32 random bytes, as the embedded defaults make them), taken as drawn`, () => {
    const random = seededRandom('base64url-32-bytes');
    for (let i = 0; i < DRAWS; i++) {
      const value = random.bytes(32).toString('base64url');
      assert.equal(weakSecretReason(value, 20), null, value);
    }
    assert.equal(weakSecretReason(generateSecret(), 20), null);
  });

  it('crypto rand: every charset at its shortest allowed length prints values the gateway accepts', () => {
    const random = seededRandom('every-charset');
    for (const charset of Object.keys(CHARSETS) as Charset[]) {
      for (let i = 0; i < 300; i++) {
        const value = drawSecret(minimumLength(charset), charset, random.int);
        assert.equal(weakSecretReason(value, 20), null, `${charset}: ${value}`);
      }
    }
    const numeric = cryptoRandProcess(['--charset', 'numeric', '--length', '25']);
    assert.equal(numeric.code, 0, numeric.err);
    assert.equal(t.load([base], { GATEHOUSE_SESSION_SECRET: numeric.out.trimEnd() }).config.session.secret, numeric.out.trimEnd());
  });

  it('crypto rand: a charset and length that cannot make 80 bits is a usage error saying the length it needs', () => {
    const r = cryptoRandProcess(['--charset', 'numeric', '--length', '20']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--length 20 of numeric characters is 66 bits; a secret needs at least 80: use --length 25 or more/);
  });

  it('crypto rand --charset ascii: 2000 values paste into YAML unquoted and read back unchanged', () => {
    const random = seededRandom('ascii-yaml');
    for (let i = 0; i < 2000; i++) {
      const value = drawSecret(20, 'ascii', random.int);
      let read: unknown;
      try {
        read = (parseYaml(`session:\n  secret: ${value}\n`) as { session?: { secret?: unknown } } | null)?.session?.secret;
      } catch (error) {
        read = error;
      }
      assert.equal(read, value, `secret: ${value}`);
    }
  });
});

describe("crypto rand --charset takes only the charsets' names", () => {
  for (const name of ['constructor', 'hasOwnProperty', '__proto__', 'toString']) {
    it(`--charset ${name}: usage error (exit 2) listing the charsets, nothing printed`, () => {
      const r = cryptoRandProcess(['--charset', name]);
      assert.equal(r.code, 2, `exit ${r.code}, printed ${JSON.stringify(r.out.slice(0, 40))}`);
      assert.equal(r.out, '');
      assert.match(r.err, /--charset must be one of alphanumeric, alphabetic, numeric, hexadecimal, base64url, ascii/);
    });
  }
});
