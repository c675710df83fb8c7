/**
 * Driving the OpenID Connect provider as its relying parties do: `openid-client` (a certified RP
 * library) talks to the in-process gateway through `oidcFetch` (https://auth.example.test as issuer,
 * reached on 127.0.0.1 behind a pretend TLS-terminating proxy), and `OidcBrowser` follows the
 * authorization redirects with a cookie jar, as a browser would, until they leave the portal.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import * as client from 'openid-client';
import { hashClientSecret } from '../../lib/client-secret.ts';
import { CookieJar, request, type HttpResponse } from './http.ts';
import { PORTAL_ORIGIN } from './inprocess-gateway.ts';

export const ISSUER = PORTAL_ORIGIN;

/** A fetch for openid-client that sends every portal request to the gateway on 127.0.0.1:`port`. */
export function oidcFetch(port: number): client.CustomFetch {
  return async (url, options) => {
    const target = new URL(url);
    const local = target.origin === PORTAL_ORIGIN ? `http://auth.example.test:${port}${target.pathname}${target.search}` : url;
    const headers: Record<string, string> = { 'x-forwarded-proto': 'https' };
    new Headers(options.headers as ConstructorParameters<typeof Headers>[0]).forEach((value, key) => (headers[key] = value));
    const body = options.body === undefined || options.body === null ? undefined : typeof options.body === 'string' ? options.body : options.body instanceof URLSearchParams ? options.body.toString() : String(options.body);
    if (body !== undefined && options.body instanceof URLSearchParams) headers['content-type'] ??= 'application/x-www-form-urlencoded';
    const answer = await request(local, { method: options.method ?? 'GET', headers, ...(body === undefined ? {} : { body }) });
    const responseHeaders = new Headers();
    for (const [key, value] of Object.entries(answer.headers)) {
      if (Array.isArray(value)) for (const v of value) responseHeaders.append(key, v);
      else if (value !== undefined) responseHeaders.set(key, String(value));
    }
    return new Response([204, 304].includes(answer.status) ? null : answer.body, { status: answer.status, headers: responseHeaders });
  };
}

/** openid-client's Configuration for a client of the gateway at `port`, found by discovery. */
export async function discover(port: number, clientId: string, secret?: string, auth?: client.ClientAuth): Promise<client.Configuration> {
  return client.discovery(new URL(ISSUER), clientId, secret, auth ?? (secret === undefined ? client.None() : client.ClientSecretBasic(secret)), {
    [client.customFetch]: oidcFetch(port),
  });
}

/** A browser with a cookie jar on the portal: follows the portal's redirects, stops at the first one that leaves it. */
export class OidcBrowser {
  readonly jar = new CookieJar();
  readonly port: number;
  /** Every response seen, last one last. */
  readonly seen: HttpResponse[] = [];
  constructor(port: number, gatewayCookie?: string) {
    this.port = port;
    if (gatewayCookie) {
      const [name, value] = gatewayCookie.split('=');
      this.jar.set(name!, value!);
    }
  }

  /** GET (or POST a form to) a portal URL and follow redirects on the portal; returns the first URL off it, or the last response. */
  async visit(url: string, form?: Record<string, string>, hops = 10): Promise<{ leftTo: URL | null; last: HttpResponse }> {
    let next: string | null = url;
    let body = form ? new URLSearchParams(form).toString() : undefined;
    let last: HttpResponse | null = null;
    for (let i = 0; i < hops && next; i++) {
      const target = new URL(next, PORTAL_ORIGIN);
      if (target.origin !== PORTAL_ORIGIN) return { leftTo: target, last: last! };
      last = await request(`http://auth.example.test:${this.port}${target.pathname}${target.search}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: {
          'x-forwarded-proto': 'https',
          accept: 'text/html',
          ...this.jar.headers(),
          ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded', origin: PORTAL_ORIGIN }),
        },
        ...(body === undefined ? {} : { body }),
      });
      this.seen.push(last);
      this.jar.store(last);
      body = undefined;
      next = last.status >= 300 && last.status < 400 ? String(last.headers.location) : null;
    }
    return { leftTo: null, last: last! };
  }
}

/** A code flow's parameters with PKCE (S256). */
export async function codeFlowStart(config: client.Configuration, redirectUri: string, scope = 'openid profile email groups', extra: Record<string, string> = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, verifier, state, nonce };
}

/** A client digest computed once per run with few rounds (the format is what matters here). */
const digests = new Map<string, Promise<string>>();
export function clientDigest(secret: string): Promise<string> {
  let digest = digests.get(secret);
  if (!digest) digests.set(secret, (digest = hashClientSecret(secret, { iterations: 1000 })));
  return digest;
}

/** A PEM RSA private key for the provider's jwks (generated once per run). */
let signingKey: string | undefined;
export function testSigningKey(): string {
  signingKey ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return signingKey;
}

/**
 * For assert.rejects: the OAuth error code openid-client reports, from the JSON body or (a 401 to a
 * client that sent Basic credentials) from the WWW-Authenticate challenge.
 */
export function oauthError(code: string) {
  return (error: { error?: string; cause?: unknown }) => {
    const challenge = Array.isArray(error.cause) ? (error.cause[0] as { parameters?: { error?: string } } | undefined)?.parameters?.error : undefined;
    assert.equal(error.error ?? challenge, code, `expected ${code}, got ${String(error)}`);
    return true;
  };
}
