/**
 * telemetry.metrics: Prometheus metrics on a listener of their own, counting what forward auth answered
 * and how password checks went. Off by default; never served on the gateway's own port.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from '../helpers/http.ts';
import { askAuthz, firstFactor, login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { freePort } from '../helpers/ports.ts';

function sample(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inside = line.slice(name.length + 1, line.indexOf('}'));
    if (wanted.every((pair) => inside.split(',').includes(pair))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

describe('gateway metrics (telemetry.metrics.enabled)', () => {
  let gw: InProcessGateway;
  let metricsUrl: string;
  before(async () => {
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    gw = await startInProcessGateway({
      users: { alice: { password: 'alice-password-1' } },
      config: {
        telemetry: { metrics: { enabled: true, address: `tcp://127.0.0.1:${port}` } },
        access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
      },
    });
  });
  after(() => gw?.close());

  it('counts forward-auth outcomes per endpoint and times them', async () => {
    const cookie = await login(gw, 'alice', 'alice-password-1');
    const before = (await request(metricsUrl)).body;
    await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie });
    await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie });
    await askAuthz(gw, 'forward-auth', 'https://app.example.test/');
    const scrape = await request(metricsUrl);
    assert.equal(scrape.status, 200);
    assert.match(scrape.headers['content-type'] ?? '', /^text\/plain/);
    const after = scrape.body;
    const delta = (labels: Record<string, string>) => sample(after, 'gatehouse_authz_requests_total', labels) - sample(before, 'gatehouse_authz_requests_total', labels);
    assert.equal(delta({ dialect: 'auth-request', outcome: 'allow' }), 2);
    assert.equal(delta({ dialect: 'forward-auth', outcome: 'login' }), 1);
    assert.ok(sample(after, 'gatehouse_authz_duration_seconds_count', { dialect: 'auth-request' }) >= 2);
  });

  it('counts password checks by result', async () => {
    await firstFactor(gw, { username: 'alice', password: 'wrong' });
    const text = (await request(metricsUrl)).body;
    assert.ok(sample(text, 'gatehouse_authentication_attempts_total', { method: 'portal', result: 'failure' }) >= 1);
    assert.ok(sample(text, 'gatehouse_authentication_attempts_total', { method: 'portal', result: 'success' }) >= 1);
  });

  it("is not served on the gateway's own port", async () => {
    assert.notEqual((await request(`${gw.url}/metrics`)).status, 200);
  });
});
