// Review of issue 7, item 2: with the defaults on 2 CPUs (concurrency 1, queue 4, per_client 4) two
// attacker addresses filled the slot and the queue and every real user got 429; the gateway also
// keyed clients by full address, so one IPv6 host with its /64 was as many clients as it liked.
// Clients are now keyed as the monitor keys them (IPv6 by /64), and a client with fewer checks in
// flight than the heaviest queued one takes that one's place in a full queue.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPasswordCheckLimiter, PasswordChecksBusy } from '../../lib/password-checks.ts';
import { countingVerifier, eventually, firstFactor, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import type { HttpResponse } from '../helpers/http.ts';

const PASSWORD = 'correct horse battery staple';
// the defaults a 2-CPU machine gets with argon2 parallelism 4
const LIMITS = { concurrency: 1, queue: 4, per_client: 4, max_wait: '60s' };
const REAL_USER = { 'x-forwarded-for': '203.0.113.5' };

async function flood(gw: InProcessGateway, addresses: string[], perAddress: number) {
  const answered: HttpResponse[] = [];
  const sends = addresses.flatMap((address) =>
    Array.from({ length: perAddress }, (_, i) =>
      firstFactor(gw, { username: `nobody-${address}-${i}`, password: 'guess' }, { 'x-forwarded-for': address }).then((r) => (answered.push(r), r)),
    ),
  );
  return { sends, answered };
}

describe('a full queue: a real user from a third address displaces a flooder, not the other way round', () => {
  const verifier = countingVerifier({ held: true });
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({ users: { alice: { password: PASSWORD } }, config: { authentication_backend: { password_checks: LIMITS }, access_control: { default_policy: 'one_factor' } }, verifyPassword: verifier.verify });
  });
  after(() => gw?.close());

  it('two flooding addresses with 6 logins each; alice from a third is admitted and logs in', async () => {
    const { sends, answered } = await flood(gw, ['198.51.100.7', '198.51.100.8'], 6);
    // each address gets its share of 4: 1 hashing, 4 queued, 3 refused for the full queue, 4 for the share
    await eventually('the flood fills the slot and the queue', () => answered.length === 12 - 5 && gw.gateway.passwordChecks.stats().queued === 4, 10_000);
    let aliceDone = false;
    const alice = firstFactor(gw, { username: 'alice', password: PASSWORD }, REAL_USER).finally(() => (aliceDone = true));
    await eventually('alice is queued or answered', () => aliceDone || answered.length === 12 - 4);
    assert.equal(aliceDone, false, 'alice was not refused');
    assert.equal(gw.gateway.passwordChecks.stats().queued, 4, 'the queue stays bounded');
    verifier.open();
    const response = await alice;
    assert.equal(response.status, 200, response.body);
    const statuses = (await Promise.all(sends)).map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 429).length, 12 - 4, `flood statuses: ${statuses.join(',')}`);
  });
});

describe('many addresses of one IPv6 /64 are one client', () => {
  const verifier = countingVerifier({ held: true });
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({ users: { alice: { password: PASSWORD } }, config: { authentication_backend: { password_checks: LIMITS }, access_control: { default_policy: 'one_factor' } }, verifyPassword: verifier.verify });
  });
  after(() => gw?.close());

  it('20 addresses of 2001:db8:1:2::/64: one share of 4 in the limiter; alice from another address logs in', async () => {
    const addresses = Array.from({ length: 20 }, (_, i) => `2001:db8:1:2::${(i + 1).toString(16)}`);
    const { sends, answered } = await flood(gw, addresses, 1);
    await eventually('all but the /64 share are answered', () => answered.length === 20 - 4, 10_000);
    assert.ok(answered.every((r) => r.status === 429));
    assert.equal(gw.gateway.passwordChecks.stats().rejected.client, 16, 'refused for the /64 share, not for a full queue');
    const alice = firstFactor(gw, { username: 'alice', password: PASSWORD }, REAL_USER);
    await eventually('alice waits in the queue', () => gw.gateway.passwordChecks.stats().queued === 4);
    verifier.open();
    assert.equal((await alice).status, 200);
    await Promise.all(sends);
  });
});

describe('the limiter itself: the heaviest client loses its newest queued check to a lighter newcomer', () => {
  it('defaults of a 2-CPU machine; two flooders, then a real user', async () => {
    const limiter = createPasswordCheckLimiter({ concurrency: 1, queue: 4, perClient: 4, maxWaitMs: 60_000 });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const ran: string[] = [];
    const check = (client: string) => () => gate.then(() => void ran.push(client));
    const a = Array.from({ length: 4 }, () => limiter.run('198.51.100.7', check('a')).then(() => 'ok', (e: unknown) => e));
    const b = Array.from({ length: 4 }, () => limiter.run('198.51.100.8', check('b')).then(() => 'ok', (e: unknown) => e));
    await new Promise((resolve) => setImmediate(resolve));
    const user = limiter.run('203.0.113.5', check('user'));
    open();
    await user;
    assert.ok(ran.includes('user'));
    const results = [...(await Promise.all(a)), ...(await Promise.all(b))];
    const refused = results.filter((r) => r instanceof PasswordChecksBusy);
    // 1 running + 4 queued of 8: 3 refused for the full queue, and one more to make room for the user
    assert.equal(refused.length, 4);
    assert.deepEqual(limiter.stats().rejected, { client: 0, queue: 4, wait: 0 });
  });
});
