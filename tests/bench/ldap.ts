/**
 * `npm run bench:ldap`: the same in-process gateway (SQLite, memory sessions) with the users file and
 * with a directory (a throwaway slapd, tests/helpers/slapd.ts), measured in the same run:
 *   1. forward-auth answers per second (GET /api/authz/auth-request, a signed-in session, a rule on the
 *      user's group). With the default refresh_interval (5m) the details cache (gateway/users/cached.ts)
 *      answers from memory, so the directory must cost next to nothing: the goal is LDAP ≥ 90 % of the
 *      file backend, and the script exits 1 when it is missed. `refresh_interval: always` (a search of
 *      the user and one of the groups per answer) is printed beside it, for what the cache buys.
 *   2. logins per second (POST /api/firstfactor): with the file, an argon2id check (the test suite's
 *      cheap parameters, 1 MiB, t=1, unless --argon2 default); with the directory, a search as the
 *      service account, a bind as the user, a search of the groups. Right passwords only, so regulation
 *      never delays or bans anyone; 8 distinct users in turn, each loop from its own client address
 *      (password_checks.per_client is per address).
 * The load comes from a worker thread (tests/bench/http-load-worker.ts), so the gateway's thread has a
 * core of its own; slapd shares the machine's cores with both. Authz rounds alternate file / LDAP /
 * LDAP-always and the medians are reported. Every loop is bounded in count and time.
 */
import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Attribute, Change, Client } from 'ldapts';
import { gatewayLdapConfig, LDAP_ROOT_DN, LDAP_ROOT_PASSWORD, LDAP_SERVICE_DN, LDAP_SUFFIX, startSlapd, type Slapd } from '../helpers/slapd.ts';
import { login, startInProcessGateway, type InProcessGateway, type TestUser } from '../helpers/inprocess-gateway.ts';
import { generateSecret } from '../../lib/secret-strength.ts';
import { writeFileAtomic } from '../../lib/fs-atomic.ts';
import { DEFAULT_ARGON2_PARAMS, hashPassword } from '../../lib/password-hash.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { stringify } from 'yaml';
import { join } from 'node:path';
import type { LoadJob, LoadResult } from './http-load-worker.ts';

const HELP = `Usage: npm run bench:ldap -- [--seconds S] [--max N] [--rounds N] [--concurrency N] [--login-seconds S] [--login-max N] [--argon2 fast|default]
  --seconds S          at most S seconds per forward-auth measurement (default 1.5)
  --max N              at most N forward-auth answers per measurement (default 60000)
  --rounds N           file / LDAP / LDAP-always forward-auth rounds, medians reported (default 9: short
                       rounds, so that a neighbour's load on a shared machine falls on both sides alike)
  --concurrency N      forward-auth requests in flight (default 8)
  --login-seconds S    at most S seconds per login measurement (default 5)
  --login-max N        at most N logins per measurement (default 5000)
  --argon2 P           the users file's hashes: fast (the tests' 1 MiB, t=1; default) or default (64 MiB, t=3, p=4)
Exits 1 when forward auth with LDAP (default refresh_interval) is below 90 % of the file backend's.
`;

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1.5' },
    max: { type: 'string', default: '60000' },
    rounds: { type: 'string', default: '9' },
    concurrency: { type: 'string', default: '8' },
    'login-seconds': { type: 'string', default: '5' },
    'login-max': { type: 'string', default: '5000' },
    argon2: { type: 'string', default: 'fast' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const SECONDS = Number(values.seconds);
const MAX = Number(values.max);
const ROUNDS = Math.max(1, Number(values.rounds));
const CONCURRENCY = Number(values.concurrency);
const LOGIN_SECONDS = Number(values['login-seconds']);
const LOGIN_MAX = Number(values['login-max']);
// password_checks.per_client (4): more loops would share addresses; 4 keeps each loop's address its own
const LOGIN_CONCURRENCY = 4;
const DEFAULT_ARGON2 = values.argon2 === 'default';
const GOAL = 0.9;

const USERS = Array.from({ length: 8 }, (_, i) => ({ username: `bench${i + 1}`, password: `Bench-Lantern-Orbit-${i + 1}7` }));
const ACCESS_CONTROL = { default_policy: 'deny', rules: [{ domain: 'app.example.test', subject: ['group:dev'], policy: 'one_factor' }] };

/** `{SSHA}` as slappasswd writes it: SHA-1 of the password and a salt, then the salt. */
function ssha(password: string): string {
  const salt = randomBytes(8);
  return `{SSHA}${Buffer.concat([createHash('sha1').update(password).update(salt).digest(), salt]).toString('base64')}`;
}

/** The bench users in ou=people, members of cn=dev; the service account given a real secret, returned. */
async function loadDirectory(slapd: Slapd): Promise<string> {
  const client = new Client({ url: slapd.url, timeout: 5_000 });
  try {
    await client.bind(LDAP_ROOT_DN, LDAP_ROOT_PASSWORD);
    const servicePassword = generateSecret();
    await client.modify(LDAP_SERVICE_DN, new Change({ operation: 'replace', modification: new Attribute({ type: 'userPassword', values: [servicePassword] }) }));
    for (const { username, password } of USERS) {
      await client.add(`uid=${username},ou=people,${LDAP_SUFFIX}`, {
        objectClass: 'inetOrgPerson', uid: username, cn: `Bench ${username}`, sn: 'Bench', displayName: `Bench ${username}`,
        mail: `${username}@example.test`, userPassword: ssha(password),
      });
    }
    await client.modify(`cn=dev,ou=groups,${LDAP_SUFFIX}`, new Change({
      operation: 'add',
      modification: new Attribute({ type: 'member', values: USERS.map(({ username }) => `uid=${username},ou=people,${LDAP_SUFFIX}`) }),
    }));
    return servicePassword;
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

function ldapConfig(slapd: Slapd, servicePassword: string, refreshInterval: string): Record<string, unknown> {
  return {
    authentication_backend: {
      refresh_interval: refreshInterval,
      password_reset: { disable: true },
      ldap: gatewayLdapConfig(slapd, servicePassword),
    },
    access_control: ACCESS_CONTROL,
  };
}

interface Rate {
  rate: number;
  done: number;
  /** The gateway thread's busy time per operation, ms. */
  cpuMs: number;
}

/** One bounded load from the worker thread; the gateway thread's busy time is its event loop utilisation. */
async function load(job: Omit<LoadJob, 'port' | 'seconds' | 'max' | 'concurrency'>, gw: InProcessGateway, bounds: { seconds: number; max: number; concurrency: number }): Promise<Rate> {
  const before = performance.eventLoopUtilization();
  const worker = new Worker(new URL('./http-load-worker.ts', import.meta.url), { workerData: { ...job, port: gw.port, ...bounds } satisfies LoadJob });
  try {
    const result = await new Promise<LoadResult>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const busy = performance.eventLoopUtilization(before);
    return { rate: result.done / (result.elapsedMs / 1000), done: result.done, cpuMs: busy.active / Math.max(result.done, 1) };
  } finally {
    await worker.terminate();
  }
}

const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

async function main(): Promise<number> {
  let slapd: Slapd | undefined;
  let usersDir: { dir: string; cleanup: () => Promise<void> } | undefined;
  const gateways: InProcessGateway[] = [];
  try {
    slapd = await startSlapd();
    const servicePassword = await loadDirectory(slapd);
    let file: InProcessGateway;
    if (DEFAULT_ARGON2) {
      // the helper hashes with the tests' cheap parameters: here the users file is written at the defaults
      usersDir = await makeTempDir('gatehouse-bench-ldap-');
      const entries: Record<string, unknown> = {};
      for (const { username, password } of USERS) {
        entries[username] = { displayname: username, password: await hashPassword(password), email: `${username}@example.test`, groups: ['dev'] };
      }
      await writeFileAtomic(join(usersDir.dir, 'users.yml'), stringify({ users: entries }), 0o600);
      const { memory, iterations, parallelism } = DEFAULT_ARGON2_PARAMS;
      file = await startInProcessGateway({ dir: usersDir.dir, config: { access_control: ACCESS_CONTROL, authentication_backend: { file: { path: join(usersDir.dir, 'users.yml'), password: { argon2: { memory, iterations, parallelism } } } } } });
    } else {
      const users: Record<string, TestUser> = Object.fromEntries(USERS.map(({ username, password }) => [username, { password, email: `${username}@example.test`, groups: ['dev'] }]));
      file = await startInProcessGateway({ users, config: { access_control: ACCESS_CONTROL } });
    }
    gateways.push(file);
    const ldap = await startInProcessGateway({ config: ldapConfig(slapd, servicePassword, '5m') });
    gateways.push(ldap);
    const always = await startInProcessGateway({ config: ldapConfig(slapd, servicePassword, 'always') });
    gateways.push(always);
    const measured = [['file', file], ['ldap', ldap], ['always', always]] as const;

    const bench1 = USERS[0]!;
    const cookies = new Map<InProcessGateway, string>();
    for (const [, gw] of measured) cookies.set(gw, await login(gw, bench1.username, bench1.password));

    // forward auth: a short warm-up of each, then alternating rounds
    const authzBounds = { seconds: SECONDS, max: MAX, concurrency: CONCURRENCY };
    for (const [, gw] of measured) await load({ kind: 'authz', cookie: cookies.get(gw)! }, gw, { ...authzBounds, seconds: Math.min(1, SECONDS) });
    const authz: Record<'file' | 'ldap' | 'always', Rate[]> = { file: [], ldap: [], always: [] };
    for (let round = 0; round < ROUNDS; round++) {
      // file and LDAP take turns going first (whoever follows inherits the other's garbage); always last
      const order = round % 2 === 0 ? measured : [measured[1], measured[0], measured[2]];
      for (const [name, gw] of order) authz[name].push(await load({ kind: 'authz', cookie: cookies.get(gw)! }, gw, authzBounds));
    }
    const ratios = authz.ldap.map((r, i) => r.rate / authz.file[i]!.rate);

    // logins: the file, then the directory (the details cache plays no part: a login always asks the backend)
    const loginBounds = { seconds: LOGIN_SECONDS, max: LOGIN_MAX, concurrency: LOGIN_CONCURRENCY };
    const fileLogins = await load({ kind: 'login', logins: USERS }, file, loginBounds);
    const ldapLogins = await load({ kind: 'login', logins: USERS }, ldap, loginBounds);

    const ratio = median(ratios);
    const row = (label: string, rates: Rate[]) => {
      const mid = median(rates.map((r) => r.rate));
      const cpu = median(rates.map((r) => r.cpuMs));
      console.log(`  ${label.padEnd(44)} ${fmt(mid).padStart(7)}/s  ${cpu.toFixed(3)} ms CPU each  (rounds ${fmt(Math.min(...rates.map((r) => r.rate)))}–${fmt(Math.max(...rates.map((r) => r.rate)))})`);
    };
    console.log(`Forward auth (auth-request, signed-in session, rule on group:dev; ${CONCURRENCY} in flight, ${ROUNDS} rounds of ≤ ${SECONDS} s or ${fmt(MAX)}, medians)`);
    console.log('  (load from a worker thread; CPU is the gateway thread\'s busy time per answer)');
    row('users file', authz.file);
    row('LDAP, refresh_interval 5m (details cached)', authz.ldap);
    row('LDAP, refresh_interval always (no cache)', authz.always);
    console.log(`  ratio LDAP (cached) / file: ${ratio.toFixed(3)} (rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})   goal ≥ ${GOAL}: ${ratio >= GOAL ? 'met' : 'MISSED'}`);
    console.log(`  gateway CPU per answer, LDAP (cached) / file: ${(median(authz.ldap.map((r) => r.cpuMs)) / median(authz.file.map((r) => r.cpuMs))).toFixed(3)}`);
    console.log(`  ratio LDAP (always) / file: ${(median(authz.always.map((r) => r.rate)) / median(authz.file.map((r) => r.rate))).toFixed(3)}`);
    console.log(`Logins (POST /api/firstfactor, right passwords, ${USERS.length} users in turn, ${LOGIN_CONCURRENCY} in flight from 4 addresses, ≤ ${LOGIN_SECONDS} s or ${fmt(LOGIN_MAX)})`);
    const argon = DEFAULT_ARGON2 ? 'argon2id 64 MiB, t=3, p=4' : 'argon2id 1 MiB, t=1 (test parameters)';
    console.log(`  users file (${argon})`.padEnd(60) + `${fmt(fileLogins.rate).padStart(6)}/s  ${fileLogins.cpuMs.toFixed(2)} ms CPU each  (${fmt(fileLogins.done)} logins)`);
    console.log('  LDAP (search, bind as the user, groups search; SSHA)'.padEnd(60) + `${fmt(ldapLogins.rate).padStart(6)}/s  ${ldapLogins.cpuMs.toFixed(2)} ms CPU each  (${fmt(ldapLogins.done)} logins)`);
    console.log(`  ratio LDAP / file: ${(ldapLogins.rate / fileLogins.rate).toFixed(3)}`);
    return ratio >= GOAL ? 0 : 1;
  } finally {
    for (const gw of gateways) await gw.close();
    await slapd?.cleanup();
    await usersDir?.cleanup();
  }
}

process.exitCode = await main();
