/**
 * A second real relying party, written by others: Apache httpd with mod_auth_openidc protects a page
 * (a CGI script that prints what Apache hands the application), the gateway is its OpenID Connect
 * provider. A client with a cookie jar plays the browser: the protected page sends it to the
 * authorization endpoint, the portal session decides, the code goes back to Apache's redirect URI,
 * Apache redeems it server-side (token, JWKS, userinfo), and the page shows the user's claims. Then a
 * logout through Apache ends its session and hands over to the provider's end-session endpoint.
 *
 * The same Apache is the TLS front of the gateway (https://auth.example.test is the issuer): one
 * virtual host reverse-proxies to the gateway with `X-Forwarded-Proto: https`. mod_auth_openidc's own
 * calls go to https://127.0.0.1:<port> (that host is the default virtual host, so they reach the
 * gateway too), trusting only the test certificate; the browser's go to https://auth.example.test,
 * which the client below resolves to the same port.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireApache, startApache, type ApacheServer } from '../helpers/apache.ts';
import { CookieJar, request, type HttpResponse } from '../helpers/http.ts';
import { login, PORTAL_ORIGIN, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { clientDigest, testSigningKey } from '../helpers/oidc.ts';
import { freePort } from '../helpers/ports.ts';
import { makeCertificate, type TestCertificate } from '../helpers/tls.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const SECRET = randomBytes(24).toString('base64url');
const PASSWORD = 'Old-Lantern-Orbit-47';

const WHOAMI = `#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'REMOTE_USER=%s\\n' "$REMOTE_USER"
env | grep '^OIDC_CLAIM_' | sort
`;

function relyingPartySite(o: { port: number; gatewayPort: number; cert: TestCertificate; dir: string }): string {
  const back = `https://127.0.0.1:${o.port}`;
  const tls = `    SSLEngine on
    SSLCertificateFile ${o.cert.certPath}
    SSLCertificateKeyFile ${o.cert.keyPath}`;
  return `
# The first virtual host is also the default one: mod_auth_openidc's calls to https://127.0.0.1:${o.port} land here.
<VirtualHost 127.0.0.1:${o.port}>
    ServerName auth.example.test
${tls}
    RequestHeader set Host auth.example.test
    RequestHeader set X-Forwarded-Proto https
    ProxyPreserveHost On
    ProxyPass / http://127.0.0.1:${o.gatewayPort}/
</VirtualHost>

<VirtualHost 127.0.0.1:${o.port}>
    ServerName app.example.test
${tls}
    OIDCProviderIssuer ${PORTAL_ORIGIN}
    OIDCProviderAuthorizationEndpoint ${PORTAL_ORIGIN}/api/oidc/authorization
    OIDCProviderEndSessionEndpoint ${PORTAL_ORIGIN}/api/oidc/end-session
    OIDCProviderTokenEndpoint ${back}/api/oidc/token
    OIDCProviderTokenEndpointAuth client_secret_basic
    OIDCProviderUserInfoEndpoint ${back}/api/oidc/userinfo
    OIDCProviderJwksUri ${back}/jwks.json
    OIDCSSLValidateServer On
    OIDCCABundlePath ${join(o.dir, 'ca.pem')}
    OIDCClientID apache
    OIDCClientSecret ${SECRET}
    OIDCRedirectURI https://app.example.test:${o.port}/oidc/callback
    OIDCCryptoPassphrase ${randomBytes(24).toString('base64url')}
    OIDCScope "openid profile email groups"
    OIDCPKCEMethod S256
    OIDCRemoteUserClaim preferred_username
    OIDCPassClaimsAs environment
    ScriptAlias /whoami ${join(o.dir, 'whoami.cgi')}
    <Location />
        AuthType openid-connect
        Require valid-user
    </Location>
</VirtualHost>
`;
}

/** A browser with one cookie jar: https://auth.example.test (no port, as the issuer says) and the app both reach Apache on `port`. */
class Browser {
  readonly jar = new CookieJar();
  readonly port: number;
  readonly ca: string;
  constructor(port: number, ca: string) {
    this.port = port;
    this.ca = ca;
  }

  send(url: string, form?: Record<string, string>): Promise<HttpResponse> {
    const target = new URL(url);
    if (target.origin === PORTAL_ORIGIN) target.port = String(this.port);
    const body = form ? new URLSearchParams(form).toString() : undefined;
    return request(target.href, {
      method: form ? 'POST' : 'GET',
      ca: this.ca,
      headers: {
        accept: 'text/html',
        ...this.jar.headers(),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded', origin: PORTAL_ORIGIN } : {}),
      },
      ...(body === undefined ? {} : { body }),
    });
  }

  /** Follows redirects (every hop recorded) until a page that is not a redirect. */
  async visit(url: string, form?: Record<string, string>, hops = 12): Promise<{ last: HttpResponse; path: URL[] }> {
    const path: URL[] = [new URL(url)];
    let last = await this.send(url, form);
    this.jar.store(last);
    for (let i = 0; i < hops && last.status >= 300 && last.status < 400; i++) {
      const next = new URL(String(last.headers.location), path.at(-1));
      path.push(next);
      last = await this.send(next.href);
      this.jar.store(last);
    }
    return { last, path };
  }
}

describe('OpenID Connect: Apache httpd with mod_auth_openidc as the relying party', () => {
  let gw: InProcessGateway;
  let apache: ApacheServer;
  let cert: TestCertificate;
  let cleanup: () => Promise<void>;
  let port: number;
  let app: string;

  before(async () => {
    requireApache({ file: 'mod_auth_openidc.so', debianPackage: 'libapache2-mod-auth-openidc' });
    const temp = await makeTempDir('gatehouse-apache-');
    cleanup = temp.cleanup;
    port = await freePort();
    app = `https://app.example.test:${port}`;
    cert = await makeCertificate(['auth.example.test', 'app.example.test', '127.0.0.1']);
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD, email: 'alice@example.test', displayname: 'Alice Liddell', groups: ['admins', 'ops'] } },
      config: {
        access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
        identity_providers: {
          oidc: {
            jwks: [{ key: testSigningKey() }],
            clients: [
              {
                client_id: 'apache',
                client_name: 'Apache',
                client_secret: await clientDigest(SECRET),
                // the port is part of the redirect URI: Apache builds it from the request
                redirect_uris: [`${app}/oidc/callback`],
                post_logout_redirect_uris: [`${app}/signed-out`],
                scopes: ['openid', 'profile', 'email', 'groups'],
                authorization_policy: 'one_factor',
                consent_mode: 'implicit',
                require_pkce: true,
                pkce_challenge_method: 'S256',
                token_endpoint_auth_method: 'client_secret_basic',
              },
            ],
          },
        },
      },
    });
    // mod_auth_openidc reads the CA bundle and httpd runs the script in a child process (an unprivileged one under root)
    await writeFile(join(temp.dir, 'ca.pem'), cert.certPem, { mode: 0o644 });
    await writeFile(join(temp.dir, 'whoami.cgi'), WHOAMI);
    await chmod(join(temp.dir, 'whoami.cgi'), 0o755);
    apache = await startApache({
      dir: temp.dir,
      port,
      modules: ['authn_core', 'authz_user', 'ssl', 'headers', 'proxy', 'proxy_http', 'alias', 'cgi', 'auth_openidc'],
      config: relyingPartySite({ port, gatewayPort: gw.port, cert, dir: temp.dir }),
    });
  });
  after(async () => {
    await apache?.stop();
    await gw?.close();
    await cert?.cleanup();
    await cleanup?.();
  });

  const failure = async (what: string, response: HttpResponse): Promise<string> =>
    `${what}: ${response.status} ${String(response.headers.location ?? '')} ${response.body.slice(0, 400)}\n--- apache error.log ---\n${(await apache.errorLog()).slice(-4000)}`;

  it('without a session the protected page sends the browser to the authorization endpoint, with PKCE', async () => {
    const browser = new Browser(port, cert.certPem);
    const first = await browser.send(`${app}/whoami`);
    assert.equal(first.status, 302, await failure('the protected page', first));
    const to = new URL(String(first.headers.location));
    assert.equal(`${to.origin}${to.pathname}`, `${PORTAL_ORIGIN}/api/oidc/authorization`);
    assert.equal(to.searchParams.get('client_id'), 'apache');
    assert.equal(to.searchParams.get('redirect_uri'), `${app}/oidc/callback`);
    assert.equal(to.searchParams.get('code_challenge_method'), 'S256');
    assert.deepEqual(to.searchParams.get('scope')?.split(' ').sort(), ['email', 'groups', 'openid', 'profile']);
  });

  it('a signed-in user lands on the page with the claims Apache passes on, and a logout through Apache ends it', async () => {
    const browser = new Browser(port, cert.certPem);
    const [name, value] = (await login(gw, 'alice', PASSWORD)).split('=');
    browser.jar.set(name!, value!);

    const { last, path } = await browser.visit(`${app}/whoami`);
    assert.equal(last.status, 200, await failure('the login through Apache', last));
    const hops = path.map((url) => `${url.origin}${url.pathname}`);
    assert.ok(hops.includes(`${PORTAL_ORIGIN}/api/oidc/authorization`), hops.join('\n'));
    assert.ok(hops.includes(`${app}/oidc/callback`), `the code came back to Apache's redirect URI:\n${hops.join('\n')}`);
    assert.equal(hops.at(-1), `${app}/whoami`);
    const seen = Object.fromEntries(last.body.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
    assert.equal(seen['REMOTE_USER'], 'alice', last.body);
    assert.equal(seen['OIDC_CLAIM_preferred_username'], 'alice', last.body);
    assert.equal(seen['OIDC_CLAIM_email'], 'alice@example.test', last.body);
    assert.equal(seen['OIDC_CLAIM_name'], 'Alice Liddell', last.body);
    assert.equal(seen['OIDC_CLAIM_groups'], 'admins,ops', last.body);
    assert.equal(seen['OIDC_CLAIM_iss'], PORTAL_ORIGIN, last.body);
    assert.ok((seen['OIDC_CLAIM_sub'] ?? '').length > 20 && seen['OIDC_CLAIM_sub'] !== 'alice', last.body);

    // the session holds: the page again, no trip to the provider
    const again = await browser.send(`${app}/whoami`);
    assert.equal(again.status, 200, await failure('the page with the Apache session', again));

    // logout through Apache: its session ends and the browser goes to the end-session endpoint with the ID token
    const out = await browser.send(`${app}/oidc/callback?logout=${encodeURIComponent(`${app}/signed-out`)}`);
    browser.jar.store(out);
    assert.equal(out.status, 302, await failure('the logout', out));
    const endSession = new URL(String(out.headers.location));
    assert.equal(`${endSession.origin}${endSession.pathname}`, `${PORTAL_ORIGIN}/api/oidc/end-session`);
    assert.equal(endSession.searchParams.get('post_logout_redirect_uri'), `${app}/signed-out`);
    assert.ok(endSession.searchParams.get('id_token_hint'), endSession.href);

    // the provider asks; yes sends the browser back where Apache asked
    const question = await browser.send(endSession.href);
    browser.jar.store(question);
    assert.equal(question.status, 200, await failure('the end-session question', question));
    const action = /<form[^>]*id="op\.logoutForm"[^>]*action="([^"]+)"/.exec(question.body)?.[1] ?? /<form[^>]*action="([^"]+)"[^>]*id="op\.logoutForm"/.exec(question.body)?.[1];
    assert.ok(action, question.body);
    const fields = Object.fromEntries([...question.body.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    const confirmed = await browser.send(new URL(action.replaceAll('&amp;', '&'), PORTAL_ORIGIN).href, { ...fields, logout: 'yes' });
    browser.jar.store(confirmed);
    assert.equal(confirmed.status, 303, await failure('the logout confirmation', confirmed));
    assert.equal(new URL(String(confirmed.headers.location)).href.split('?')[0], `${app}/signed-out`);

    // Apache's session is gone: the page sends the browser to the provider again, and the portal wants a sign-in
    const after = await browser.send(`${app}/whoami`);
    assert.equal(after.status, 302, await failure('the page after logout', after));
    assert.equal(new URL(String(after.headers.location)).pathname, '/api/oidc/authorization');
    const { last: atPortal, path: portalPath } = await browser.visit(String(after.headers.location));
    assert.ok(!portalPath.some((url) => url.pathname === '/oidc/callback'), `no code without a gateway session:\n${portalPath.map(String).join('\n')}`);
    // the confirmed logout ended the gateway session too: the authorization request waits at the sign-in page
    assert.equal(atPortal.status, 200);
    assert.equal(portalPath.at(-1)?.pathname, '/', portalPath.map(String).join('\n'));
    assert.match(portalPath.at(-1)?.searchParams.get('rd') ?? '', /^https:\/\/auth\.example\.test\/oidc\/interaction\//);
  });
});
