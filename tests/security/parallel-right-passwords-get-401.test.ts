// Review of issue 7, item 1: attempts still in flight counted as failures and the refusal looked like
// a wrong password, so a Basic-auth client sending several requests at once (WebDAV sync) with the
// RIGHT password got spurious 401s, and with `modes: [ip]` so did everyone behind one NAT. An attempt
// held back only by attempts in flight now waits for them (bounded by max_wait), then gets 429, never 401.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { askAuthz, countingVerifier, eventually, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import type { HttpResponse } from '../helpers/http.ts';

const PASSWORD = 'correct horse battery staple';
const PARALLEL = 8;
const ACCESS = { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] };

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** Attempts waiting for others in flight (absent before the fix: then nothing waits). */
function waiting(gw: InProcessGateway): number {
  return (gw.gateway as { firstFactor?: { stats(): { waitingForAttempts: number } } }).firstFactor?.stats().waitingForAttempts ?? 0;
}

/** Sends the requests at once with the verifier held; returns once max_retries hash and the rest are answered or waiting. */
async function sendHeld(gw: InProcessGateway, verifier: ReturnType<typeof countingVerifier>, sends: Array<() => Promise<HttpResponse>>) {
  let answered = 0;
  const pending = sends.map((send) => send().then((r) => (answered++, r)));
  await eventually('three are hashing and the others answered or waiting', () => verifier.started === 3 && answered + waiting(gw) === sends.length - 3, 10_000);
  return { pending, answered: () => answered };
}

describe('a Basic-auth client sending requests at once with the right password gets them all through', () => {
  const verifier = countingVerifier({ held: true });
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD } },
      verifyPassword: verifier.verify,
      config: {
        authentication_backend: { password_checks: { concurrency: PARALLEL, per_client: PARALLEL, max_wait: '60s' } },
        regulation: { max_retries: 3, find_time: '2m', ban_time: '5m' },
        access_control: ACCESS,
      },
    });
  });
  after(() => gw?.close());

  it(`${PARALLEL} parallel requests: max_retries are checked at a time, the others wait for them, all answer 200`, async () => {
    const ask = (i: number) => askAuthz(gw, 'forward-auth', `https://app.example.test/dav/${i}`, { headers: { authorization: basic('alice', PASSWORD) } });
    const { pending } = await sendHeld(gw, verifier, Array.from({ length: PARALLEL }, (_, i) => () => ask(i)));
    verifier.open();
    const answers = await Promise.all(pending);
    assert.deepEqual(answers.map((a) => a.status), Array(PARALLEL).fill(200));
    for (const a of answers) assert.equal(a.headers['remote-user'], 'alice');
    assert.equal(verifier.started, PARALLEL);
    assert.ok(!gw.logs().some((line) => line['event'] === 'regulation.ban'), 'nobody was banned');
  });
});

describe('modes: [ip] — users behind one NAT logging in at once are not refused as wrong passwords', () => {
  const verifier = countingVerifier({ held: true });
  let gw: InProcessGateway;
  const users = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`user${i}`, { password: PASSWORD }]));
  before(async () => {
    gw = await startInProcessGateway({
      users,
      verifyPassword: verifier.verify,
      config: {
        authentication_backend: { password_checks: { concurrency: 8, per_client: 8, max_wait: '60s' } },
        regulation: { max_retries: 3, find_time: '2m', ban_time: '5m', modes: ['ip'] },
        access_control: ACCESS,
      },
    });
  });
  after(() => gw?.close());

  it('five users from one address: all 200', async () => {
    const nat = { 'x-forwarded-for': '198.51.100.7' };
    const ask = (user: string) => askAuthz(gw, 'forward-auth', 'https://app.example.test/', { headers: { ...nat, authorization: basic(user, PASSWORD) } });
    const { pending } = await sendHeld(gw, verifier, Object.keys(users).map((user) => () => ask(user)));
    verifier.open();
    assert.deepEqual((await Promise.all(pending)).map((a) => a.status), Array(5).fill(200));
  });
});

describe('an attempt that waited max_wait for attempts in flight is answered 429 with Retry-After, not 401', () => {
  const verifier = countingVerifier({ held: true });
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD } },
      verifyPassword: verifier.verify,
      config: {
        authentication_backend: { password_checks: { concurrency: 8, per_client: 8, max_wait: '1s' } },
        regulation: { max_retries: 3, find_time: '2m', ban_time: '5m' },
        access_control: ACCESS,
      },
    });
  });
  after(() => gw?.close());

  it('the fourth request, while three stay held past max_wait: 429, Retry-After, no Remote-User; the three then 200', async () => {
    const ask = () => askAuthz(gw, 'forward-auth', 'https://app.example.test/', { headers: { authorization: basic('alice', PASSWORD) } });
    const held = [ask(), ask(), ask()];
    await eventually('three are hashing', () => verifier.started === 3);
    const fourth = await ask();
    assert.equal(fourth.status, 429, fourth.body);
    assert.equal(fourth.headers['retry-after'], '1');
    assert.equal(fourth.headers['remote-user'], undefined);
    assert.equal(verifier.started, 3, 'the fourth was never hashed');
    verifier.open();
    assert.deepEqual((await Promise.all(held)).map((a) => a.status), [200, 200, 200]);
    assert.match(gw.logText(), /authentication not checked; rhost=\S+ user=alice method=basic/, 'audited as not checked, not as a failure');
  });
});
