// Issue 7, item 2: every login waited in one unbounded hashing queue, so 60 anonymous logins in
// parallel delayed a real user's login by ~37 s. Every password check of both services now goes
// through one limiter (bounded concurrency, a short queue, a per-client share). The verifier is
// held at a gate the test opens, so what is in flight is counted, never timed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createGatewayMetrics } from '../../gateway/metrics/metrics.ts';
import { createPasswordCheckLimiter } from '../../lib/password-checks.ts';
import {
  askAuthz,
  countingVerifier,
  eventually,
  firstFactor,
  startInProcessGateway,
  type InProcessGateway,
} from '../helpers/inprocess-gateway.ts';
import { PASSWORD as MONITOR_PASSWORD, startAuthServer, type AuthServer, type Reply } from '../integration/monitor-auth-harness.ts';
import type { HttpResponse } from '../helpers/http.ts';

const PASSWORD = 'correct horse battery staple';
const FLOOD = 60;
const FLOODER = { 'x-forwarded-for': '198.51.100.7' };
const REAL_USER = { 'x-forwarded-for': '203.0.113.5' };
const LIMITS = { concurrency: 2, queue: 4, per_client: 4, max_wait: '60s' };
const BUSY_MESSAGE = /^Too many sign-in attempts are being checked right now; try again in 60 s\.$/;

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

describe('a flood of anonymous logins from one address cannot queue a real user behind it (portal)', () => {
  const verifier = countingVerifier({ held: true });
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD } },
      config: { authentication_backend: { password_checks: LIMITS }, access_control: { default_policy: 'one_factor' } },
      verifyPassword: verifier.verify,
    });
  });
  after(() => gw?.close());

  it(`${FLOOD} logins for unknown users from one address: over its share they get 429 at once; alice from another address is admitted`, async () => {
    const answered: HttpResponse[] = [];
    const flood = Array.from({ length: FLOOD }, (_, i) =>
      firstFactor(gw, { username: `nobody-${i}`, password: 'guess' }, FLOODER).then((r) => (answered.push(r), r)),
    );
    // the flooder's share (4) is in the limiter: 2 hashing, 2 waiting; everything else was refused unchecked
    await eventually('the flood beyond its share is answered', () => answered.length >= FLOOD - LIMITS.per_client, 10_000);
    assert.equal(verifier.started, LIMITS.concurrency);
    const refused = answered.filter((r) => r.status === 429);
    assert.equal(refused.length, FLOOD - LIMITS.per_client, `statuses: ${answered.map((r) => r.status).join(',')}`);
    for (const r of refused) {
      assert.equal(r.headers['retry-after'], '60');
      const body = r.json() as { status: string; message: string };
      assert.equal(body.status, 'KO');
      assert.match(body.message, BUSY_MESSAGE);
      assert.equal(r.cookies.length, 0);
    }

    let aliceDone = false;
    const alice = firstFactor(gw, { username: 'alice', password: PASSWORD }, REAL_USER).finally(() => (aliceDone = true));
    await eventually('alice waits in the bounded queue', () => gw.gateway.passwordChecks.stats().queued === 3 || aliceDone);
    const stats = gw.gateway.passwordChecks.stats();
    assert.deepEqual({ running: stats.running, queued: stats.queued }, { running: 2, queued: 3 }, 'alice is admitted, behind 2 flood checks, within the queue bound');
    assert.ok(stats.queued <= LIMITS.queue);
    assert.equal(stats.rejected.client, FLOOD - LIMITS.per_client);

    verifier.open();
    const response = await alice;
    assert.equal(response.status, 200, response.body);
    assert.ok(response.cookies.some((c) => c.name === 'gatehouse_session'));
    for (const r of await Promise.all(flood)) assert.ok(r.status === 429 || r.status === 401, `flood: ${r.status}`);
    assert.equal(verifier.started, LIMITS.per_client + 1, 'hashed: the flood share and alice, nothing more');
    assert.ok(gw.logText().includes('gatehouse-auth: authentication not checked; rhost=198.51.100.7'), 'the refusals are audited, not as failures');
  });
});

describe('Basic credentials on forward-auth over the limit get 429, never 200', () => {
  const verifier = countingVerifier({ held: true });
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD } },
      config: {
        authentication_backend: { password_checks: { concurrency: 1, queue: 0, per_client: 4, max_wait: '60s' } },
        access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
      },
      verifyPassword: verifier.verify,
    });
  });
  after(() => gw?.close());

  it('the right credentials while every slot is taken: 429 with Retry-After, no Remote-User', async () => {
    const ask = () => askAuthz(gw, 'forward-auth', 'https://app.example.test/', { headers: { authorization: basic('alice', PASSWORD) } });
    const first = ask();
    await eventually('the first check holds the only slot', () => verifier.started === 1);
    const second = await ask();
    assert.equal(second.status, 429);
    assert.equal(second.headers['retry-after'], '60');
    assert.equal(second.headers['remote-user'], undefined);
    verifier.open();
    assert.equal((await first).status, 200);
    assert.equal(verifier.started, 1);
  });
});

describe('the monitor login goes through the same kind of limiter', () => {
  const verifier = countingVerifier({ held: true });
  let server: AuthServer;
  before(async () => {
    server = await startAuthServer({
      config: { password_checks: { concurrency: 1, queue: 1, per_client: 1, max_wait: '60s' } },
      verifyPassword: verifier.verify,
    });
    await server.setup('admin');
  });
  after(() => server?.close());

  it('over the per-client share and over the queue: 429 in the ProxMenux error shape with Retry-After', async () => {
    const login = (from: string, username = 'admin') => server.send('/api/auth/login', { method: 'POST', json: { username, password: MONITOR_PASSWORD }, headers: { 'x-forwarded-for': from } });
    const first = login('198.51.100.7', 'nobody');
    await eventually('the first check holds the only slot', () => verifier.started === 1);
    const sameClient = await login('198.51.100.7', 'nobody');
    let queuedReply: Reply | undefined;
    const queued = login('203.0.113.5').then((r) => (queuedReply = r));
    await eventually('the real user waits in the queue', () => {
      if (queuedReply) throw new Error(`the real user was answered instead of queued: ${queuedReply.status} ${queuedReply.body}`);
      return server.deps.passwords.limiter.stats().queued === 1;
    });
    const queueFull = await login('192.0.2.9');
    for (const reply of [sameClient, queueFull] as Reply[]) {
      assert.equal(reply.status, 429);
      assert.equal(reply.headers['retry-after'], '60');
      assert.equal(reply.json.success, false);
      assert.match(reply.json.message, BUSY_MESSAGE);
      assert.equal(reply.json.retry_after, 60);
    }
    verifier.open();
    assert.equal((await first).status, 401);
    const admin = await queued;
    assert.equal(admin.status, 200, admin.body);
    assert.equal(admin.json.success, true);
    assert.equal(verifier.started, 2);
  });
});

describe('the queue depth is a metric', () => {
  it('gatehouse_password_checks_queued / _running / _rejected', async () => {
    const limiter = createPasswordCheckLimiter({ concurrency: 1, queue: 2, perClient: 10, maxWaitMs: 60_000 });
    const metrics = createGatewayMetrics();
    metrics.watchPasswordChecks(limiter.stats);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const runs = [limiter.run('a', () => gate), limiter.run('a', () => gate), limiter.run('a', () => gate)];
    await assert.rejects(limiter.run('a', () => gate));
    const text = await metrics.registry.metrics();
    assert.match(text, /^gatehouse_password_checks_running 1$/m);
    assert.match(text, /^gatehouse_password_checks_queued 2$/m);
    assert.match(text, /^gatehouse_password_checks_rejected\{limit="queue"\} 1$/m);
    open();
    await Promise.all(runs);
  });
});
