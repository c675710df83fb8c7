/**
 * For the OpenID Connect logout tests: a relying party's back-channel logout endpoint (a node:http
 * server on 127.0.0.1 that records the logout tokens POSTed to it), the logout token's checks as a
 * relying party makes them (OpenID Connect Back-Channel Logout 1.0 §2.6, signature against the
 * gateway's /jwks.json), and a sign-in to a client that returns its tokens.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { request } from './http.ts';
import { ISSUER, OidcBrowser, codeFlowStart } from './oidc.ts';

export const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

export interface LogoutReceiver {
  port: number;
  /** `http://127.0.0.1:<port>/logout/<name>`: one per client, so each token is known by where it went. */
  uri(name: string): string;
  /** The logout tokens received so far, with the path they were POSTed to. */
  readonly received: Array<{ path: string; token: string }>;
  /** The tokens POSTed to `uri(name)`. */
  tokensFor(name: string): string[];
  close(): Promise<void>;
}

export async function startLogoutReceiver(): Promise<LogoutReceiver> {
  const received: Array<{ path: string; token: string }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const token = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('logout_token');
      if (req.method !== 'POST' || !token || !String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) return void res.writeHead(400).end();
      received.push({ path: req.url ?? '', token });
      res.writeHead(200, { 'cache-control': 'no-store' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    uri: (name) => `http://127.0.0.1:${port}/logout/${name}`,
    received,
    tokensFor: (name) => received.filter((r) => r.path === `/logout/${name}`).map((r) => r.token),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The gateway's public keys, as a relying party fetches them. */
export async function gatewayJwks(port: number) {
  const answer = await request(`http://auth.example.test:${port}/jwks.json`, { headers: { 'x-forwarded-proto': 'https' } });
  assert.equal(answer.status, 200);
  return createLocalJWKSet(answer.json());
}

/** Verifies a logout token as its relying party must, for the ID token it was given; returns the payload. */
export async function checkLogoutToken(port: number, token: string, expected: { clientId: string; idToken: JWTPayload }): Promise<JWTPayload> {
  const { payload, protectedHeader } = await jwtVerify(token, await gatewayJwks(port), { issuer: ISSUER, audience: expected.clientId });
  assert.equal(protectedHeader.typ, 'logout+jwt');
  assert.equal(payload.sub, expected.idToken.sub);
  assert.ok(typeof expected.idToken.sid === 'string' && expected.idToken.sid.length > 0, 'the ID token has a sid');
  assert.equal(payload.sid, expected.idToken.sid);
  assert.deepEqual(payload.events, { [BACKCHANNEL_EVENT]: {} });
  assert.equal(payload.nonce, undefined, 'a logout token never carries a nonce');
  assert.ok(typeof payload.jti === 'string' && typeof payload.iat === 'number');
  return payload;
}

/** Runs the code flow for `config`'s client in `browser` (already signed in to the portal); returns the tokens. */
export async function signInTo(browser: OidcBrowser, config: client.Configuration, redirectUri: string, scope = 'openid profile offline_access') {
  const start = await codeFlowStart(config, redirectUri, scope);
  const { leftTo, last } = await browser.visit(start.url.href);
  assert.ok(leftTo, `the flow never left the portal: ${last.status} ${last.headers.location ?? ''} ${last.body.slice(0, 300)}`);
  const tokens = await client.authorizationCodeGrant(config, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  return { tokens, claims: tokens.claims()! as JWTPayload, idToken: tokens.id_token! };
}

/** Whether a refresh token still works (false: invalid_grant). */
export async function refreshWorks(config: client.Configuration, refreshToken: string): Promise<boolean> {
  try {
    await client.refreshTokenGrant(config, refreshToken);
    return true;
  } catch (error) {
    assert.equal((error as { error?: string }).error, 'invalid_grant', `unexpected refresh failure: ${String(error)}`);
    return false;
  }
}
