/**
 * A legacy `session.domain` cookie (Authelia ≤ 4.37) has no authelia_url: the portal's URL is each
 * request's own. Read from any peer's Host or X-Forwarded-Host, a client talking to the gateway directly
 * could name another host under the domain (one it controls) and have alice's reset link mailed
 * pointing there: the token would reach the attacker when she clicks it. Only a trusted proxy's
 * X-Forwarded-Proto and -Host make the URL; any other peer gets 400 and no mail is sent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from '../helpers/http.ts';
import { makeCertificate, type TestCertificate } from '../helpers/tls.ts';
import { linkIn, mailTo, startMailingGateway, waitFor, type MailingGateway } from '../helpers/self-service.ts';

const LEGACY_SESSION = { session: { cookies: [], domain: 'example.test' } };

function startReset(url: string, headers: Record<string, string>, ca?: string) {
  return request(`${url}/api/reset-password/identity/start`, {
    method: 'POST',
    json: { username: 'alice' },
    headers: { accept: 'application/json', ...headers },
    ...(ca ? { ca } : {}),
  });
}

describe('legacy cookie: a peer that is not a trusted proxy cannot choose the reset link\'s host', () => {
  let m: MailingGateway;
  let cert: TestCertificate;
  before(async () => {
    cert = await makeCertificate(['auth.example.test']);
    // the gateway serves TLS itself, so https is the socket's; loopback (the test) is not a trusted proxy
    m = await startMailingGateway({
      config: { ...LEGACY_SESSION, server: { trusted_proxies: ['192.0.2.1/32'], tls: { certificate: cert.certPath, key: cert.keyPath } } },
    });
  });
  after(async () => {
    await m?.close();
    await cert?.cleanup();
  });

  const attempts: Record<string, string>[] = [
    { host: 'attacker.example.test' },
    { host: 'auth.example.test', 'x-forwarded-host': 'attacker.example.test', 'x-forwarded-proto': 'https' },
    { host: 'auth.example.test' },
  ];
  for (const headers of attempts) {
    it(`${JSON.stringify(headers)} over TLS: 400, saying the portal's URL is unknown, and no mail`, async () => {
      const answer = await startReset(`https://auth.example.test:${m.gw.port}`, headers, cert.certPem);
      assert.equal(answer.status, 400, answer.body);
      assert.match(answer.json<{ message: string }>().message, /portal's URL is not known/);
      assert.equal(m.smtp.received.length, 0);
    });
  }
});

describe('legacy cookie: behind a trusted proxy, the link is on the host the proxy names', () => {
  let m: MailingGateway;
  before(async () => {
    m = await startMailingGateway({ config: LEGACY_SESSION });
  });
  after(() => m.close());

  it('X-Forwarded-Proto https and X-Forwarded-Host auth.example.test: the link is https://auth.example.test/…', async () => {
    const answer = await startReset(`http://127.0.0.1:${m.gw.port}`, { host: '127.0.0.1', 'x-forwarded-host': 'auth.example.test', 'x-forwarded-proto': 'https', origin: 'https://auth.example.test' });
    assert.equal(answer.status, 200, answer.body);
    const mail = await waitFor('the reset mail', () => mailTo(m.smtp, 'alice@example.test')[0]);
    assert.equal(linkIn(mail, '/reset-password/finish').origin, 'https://auth.example.test');
  });

  it('plain http off loopback is refused even from the proxy: the link would travel in clear', async () => {
    const answer = await startReset(`http://127.0.0.1:${m.gw.port}`, { host: '127.0.0.1', 'x-forwarded-host': 'auth.example.test', 'x-forwarded-proto': 'http' });
    assert.equal(answer.status, 400, answer.body);
  });
});
