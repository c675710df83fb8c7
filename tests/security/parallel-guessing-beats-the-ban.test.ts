// Issue 7, item 1: the ban was checked, then the password hashed, then the failure recorded, so a
// burst of guesses sent at once was hashed in full and the right one logged in although max_retries
// is 3. Each attempt is now reserved in storage before any hash; the verifier here is the real one,
// counted and held at a gate, so the test sees how many hashes ran while the burst was in flight.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';
import {
  askAuthz,
  countingVerifier,
  eventually,
  firstFactor,
  makeClock,
  startInProcessGateway,
  type CountingVerifier,
  type InProcessGateway,
  type TestUser,
} from '../helpers/inprocess-gateway.ts';
import type { HttpResponse } from '../helpers/http.ts';

const PASSWORD = 'correct horse battery staple';
const USERS: Record<string, TestUser> = { alice: { password: PASSWORD }, bob: { password: PASSWORD } };
const GUESSES = 60;
const AUTH_FAILED = { status: 'KO', message: 'Authentication failed. Check your credentials.' };
// enough slots that the limiter of item 2 holds no admitted guess back: every admitted one is hashed,
// and a share per client above the burst (all of it comes from one address), so none is refused as busy
const CONFIG = {
  regulation: { max_retries: 3, find_time: '2m', ban_time: '5m' },
  authentication_backend: { password_checks: { concurrency: 16, per_client: 100, max_wait: '60s' } },
  access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
};

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/**
 * Sends `guesses` wrong passwords at once, waits until the ones let through are being hashed and the
 * rest answered or waiting for them (unhashed), sends the right password into that same burst, then
 * lets the hashes finish.
 */
async function burst(
  gateways: InProcessGateway[],
  verifier: CountingVerifier,
  guesses: Array<() => Promise<HttpResponse>>,
  right: () => Promise<HttpResponse>,
): Promise<{ answers: HttpResponse[]; rightAnswer: HttpResponse; hashedDuringBurst: number }> {
  let answered = 0;
  const waiting = () => gateways.reduce((n, gw) => n + gw.gateway.firstFactor.stats().waitingForAttempts, 0);
  const pending = guesses.map((send) => send().then((r) => (answered++, r)));
  // held at the gate: either the admitted guesses are hashing and the rest answered or waiting for
  // them, or more than max_retries are hashing (the flaw), which the assertions then report
  await eventually('the admitted guesses are being hashed and the others answered', () => verifier.started > 3 || (verifier.started === 3 && answered + waiting() >= guesses.length - 3), 10_000);
  const before = verifier.started;
  const waitingBefore = waiting();
  let rightDone = false;
  const rightPending = right().finally(() => (rightDone = true));
  // the right password is answered without a hash, waits with the others, or joins the held ones
  await eventually('the right password is answered or being hashed', () => rightDone || verifier.started > before || waiting() > waitingBefore, 10_000);
  const hashedDuringBurst = verifier.started;
  verifier.open();
  return { answers: await Promise.all(pending), rightAnswer: await rightPending, hashedDuringBurst };
}

function assertRefused(response: HttpResponse, what: string): void {
  assert.equal(response.status, 401, `${what}: ${response.status} ${response.body}`);
  assert.deepEqual(response.json(), AUTH_FAILED, what);
  assert.equal(response.cookies.length, 0, `${what}: no session cookie`);
}

function portalBurst(gateways: InProcessGateway[], verifier: CountingVerifier, username: string, headers: Record<string, string> = {}) {
  return burst(
    gateways,
    verifier,
    Array.from({ length: GUESSES }, (_, i) => () => firstFactor(gateways[i % gateways.length]!, { username, password: `wrong ${i}` }, headers)),
    () => firstFactor(gateways[0]!, { username, password: PASSWORD }, headers),
  );
}

async function assertBurstHeld(gateways: InProcessGateway[], verifier: CountingVerifier, result: Awaited<ReturnType<typeof burst>>, username: string) {
  assert.equal(result.hashedDuringBurst, 3, 'only max_retries guesses are hashed while the burst is in flight');
  assertRefused(result.rightAnswer, 'the right password sent in the same burst');
  for (const answer of result.answers) assertRefused(answer, 'a wrong guess');
  // the three admitted guesses failed: the ban now holds, and the right password is still refused, unhashed
  for (const gw of gateways) assertRefused(await firstFactor(gw, { username, password: PASSWORD }), `the right password after the burst on ${gw.url}`);
  assert.equal(verifier.started, 3, `hash verifications in all: ${verifier.started}`);
  assert.ok(gateways.some((gw) => gw.logs().some((line) => line['event'] === 'regulation.ban')), 'the ban was logged');
}

describe('parallel guesses on the portal, SQLite: at most max_retries are hashed and the right password is refused', () => {
  const verifier = countingVerifier({ held: true });
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({ users: USERS, config: CONFIG, verifyPassword: verifier.verify });
  });
  after(() => gw?.close());

  it(`${GUESSES} wrong passwords at once and the right one in the same burst`, async () => {
    await assertBurstHeld([gw], verifier, await portalBurst([gw], verifier, 'alice'), 'alice');
  });
});

describe('parallel guesses from one address at many usernames (modes: ip): at most max_retries are hashed', () => {
  const verifier = countingVerifier({ held: true });
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({ users: USERS, config: { ...CONFIG, regulation: { ...CONFIG.regulation, modes: ['ip'] } }, verifyPassword: verifier.verify });
  });
  after(() => gw?.close());

  it('each guess names another user; the address is what is counted', async () => {
    const from = { 'x-forwarded-for': '198.51.100.7' };
    const result = await burst(
      [gw],
      verifier,
      Array.from({ length: GUESSES }, (_, i) => () => firstFactor(gw, { username: `user${i}`, password: 'wrong' }, from)),
      () => firstFactor(gw, { username: 'bob', password: PASSWORD }, from),
    );
    assert.equal(result.hashedDuringBurst, 3);
    assertRefused(result.rightAnswer, 'bob from the guessing address');
    assertRefused(await firstFactor(gw, { username: 'bob', password: PASSWORD }, from), 'bob from the banned address');
    assert.equal(verifier.started, 3);
    // another address is not affected
    assert.equal((await firstFactor(gw, { username: 'bob', password: PASSWORD }, { 'x-forwarded-for': '203.0.113.5' })).status, 200);
  });
});

describe('parallel guesses on PostgreSQL, one gateway and two gateways sharing the database', () => {
  let database: TestDatabase;
  const verifier = countingVerifier({ held: true });
  const shared = countingVerifier({ held: true });
  const clock = makeClock();
  let gw: InProcessGateway;
  let one: InProcessGateway;
  let two: InProcessGateway;
  before(async () => {
    database = await createTestDatabase();
    const { timeout: _ms, ...connection } = database.options;
    const config = { ...CONFIG, storage: { local: undefined, postgres: { ...connection, timeout: '5s' } } };
    gw = await startInProcessGateway({ users: USERS, config, clock, verifyPassword: verifier.verify });
    // two instances, one database: the reservation is atomic across them, not only within a process
    one = await startInProcessGateway({ users: USERS, config, clock, verifyPassword: shared.verify });
    two = await startInProcessGateway({ users: USERS, config, clock, verifyPassword: shared.verify });
  });
  after(async () => {
    await gw?.close();
    await one?.close();
    await two?.close();
    await database?.drop();
  });

  it(`${GUESSES} wrong passwords at once on one gateway (alice)`, async () => {
    await assertBurstHeld([gw], verifier, await portalBurst([gw], verifier, 'alice'), 'alice');
  });

  it(`${GUESSES} wrong passwords at once, half on each gateway (bob): 3 hashes in all`, async () => {
    await assertBurstHeld([one, two], shared, await portalBurst([one, two], shared, 'bob'), 'bob');
  });
});

describe('parallel Basic guesses on /api/authz/forward-auth: at most max_retries are hashed, the right one is not let through', () => {
  const verifier = countingVerifier({ held: true });
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({ users: USERS, config: CONFIG, verifyPassword: verifier.verify });
  });
  after(() => gw?.close());

  it(`${GUESSES} wrong Basic credentials at once and the right ones in the same burst`, async () => {
    const ask = (password: string) => askAuthz(gw, 'forward-auth', 'https://app.example.test/', { headers: { authorization: basic('alice', password) } });
    const result = await burst([gw], verifier, Array.from({ length: GUESSES }, (_, i) => () => ask(`wrong ${i}`)), () => ask(PASSWORD));
    assert.equal(result.hashedDuringBurst, 3);
    assert.equal(result.rightAnswer.status, 401, 'the right credentials in the burst are refused');
    assert.equal(result.rightAnswer.headers['remote-user'], undefined);
    assert.deepEqual(new Set(result.answers.map((a) => a.status)), new Set([401]));
    const after = await ask(PASSWORD);
    assert.equal(after.status, 401, 'and after it, while the ban holds');
    assert.equal(verifier.started, 3);
  });
});
