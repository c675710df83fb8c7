import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { BadAuthzRequest, canonicalRequestHost, parseTarget, resolveTarget, targetFromRequest } from '../../../gateway/authz/target.ts';

function req(headers: Record<string, string | string[]>, extra: Partial<IncomingMessage> = {}): IncomingMessage {
  return { headers, method: 'GET', url: '/', ...extra } as unknown as IncomingMessage;
}

const nginx = (url: string, method = 'GET') => req({ 'x-original-url': url, 'x-original-method': method });
const traefik = (proto: string, host: string, uri: string, method = 'GET') =>
  req({ 'x-forwarded-proto': proto, 'x-forwarded-host': host, 'x-forwarded-uri': uri, 'x-forwarded-method': method });

describe('the target of a forward-auth question, per dialect', () => {
  it('nginx: X-Original-URL and X-Original-Method', () => {
    const target = resolveTarget(nginx('https://App.Example.test:8443/a/b?x=1', 'POST'), 'auth-request', true);
    assert.equal(target.url.href, 'https://app.example.test:8443/a/b?x=1');
    assert.equal(target.host, 'app.example.test', 'lower-case, no port');
    assert.equal(target.path, '/a/b?x=1');
    assert.equal(target.method, 'POST');
  });

  it('Traefik/Caddy: X-Forwarded-Proto/Host/Uri/Method', () => {
    const target = resolveTarget(traefik('https', 'app.example.test', '/x//%7a?q'), 'forward-auth', true);
    assert.equal(target.url.href, 'https://app.example.test/x//%7a?q');
    assert.equal(target.path, '/x/z?q', 'rules see the normalised path');
  });

  it('legacy: X-Original-URL first, else the forwarded set; the request method when none is given', () => {
    assert.equal(resolveTarget(req({ 'x-original-url': 'https://a.example.test/' }, { method: 'PUT' }), 'legacy', true).method, 'PUT');
    const forwarded = req({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'b.example.test', 'x-forwarded-uri': '/p' }, { method: 'DELETE' });
    const target = resolveTarget(forwarded, 'legacy', true);
    assert.equal(target.url.href, 'https://b.example.test/p');
    assert.equal(target.method, 'DELETE');
  });

  it('a WebSocket target (wss) is accepted like https', () => {
    assert.equal(resolveTarget(nginx('wss://app.example.test/socket'), 'auth-request', true).host, 'app.example.test');
  });
});

describe('a question that cannot be understood exactly is refused (BadAuthzRequest → deny)', () => {
  const refused: Array<[string, IncomingMessage, 'auth-request' | 'forward-auth' | 'legacy']> = [
    ['nginx without X-Original-URL', req({ 'x-original-method': 'GET' }), 'auth-request'],
    ['nginx without X-Original-Method', req({ 'x-original-url': 'https://a.example.test/' }), 'auth-request'],
    ['forward-auth without X-Forwarded-Method', req({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'a.example.test', 'x-forwarded-uri': '/' }), 'forward-auth'],
    ['forward-auth with only X-Forwarded-Host', req({ 'x-forwarded-host': 'a.example.test', 'x-forwarded-method': 'GET' }), 'forward-auth'],
    ['legacy with nothing', req({}), 'legacy'],
    ['an unparsable URL', nginx('https://'), 'auth-request'],
    ['plain http on a public host', nginx('http://app.example.test/'), 'auth-request'],
    ['ftp', nginx('ftp://app.example.test/'), 'auth-request'],
    ['credentials in the URL', nginx('https://user:pw@app.example.test/'), 'auth-request'],
    ['a lower-case method', nginx('https://a.example.test/', 'get'), 'auth-request'],
    ['a method with a space', nginx('https://a.example.test/', 'GET X'), 'auth-request'],
    ['X-Forwarded-Proto that is not a scheme', traefik('javascript', 'a.example.test', '/'), 'forward-auth'],
    ['X-Forwarded-Uri not starting with /', traefik('https', 'a.example.test', 'admin'), 'forward-auth'],
    ['X-Forwarded-Host with a path', traefik('https', 'a.example.test/admin', '/'), 'forward-auth'],
    ['X-Forwarded-Host with userinfo', traefik('https', 'evil.test@a.example.test', '/'), 'forward-auth'],
    ['two hosts joined by a proxy', traefik('https', 'a.example.test, b.example.test', '/'), 'forward-auth'],
    ['two URIs joined by a proxy', traefik('https', 'a.example.test', '/public/x, /admin'), 'forward-auth'],
    ['a repeated header delivered as a list', req({ 'x-original-url': ['https://a.example.test/', 'https://b.example.test/'], 'x-original-method': 'GET' }), 'auth-request'],
    ['an encoded slash in a dot segment', nginx('https://a.example.test/public/..%2fadmin'), 'auth-request'],
    ['a backslash', nginx('https://a.example.test/public\\..\\admin'), 'auth-request'],
    ['a raw space in the path', nginx('https://a.example.test/a b'), 'auth-request'],
  ];
  for (const [what, request, dialect] of refused) {
    it(what, () => {
      assert.throws(() => resolveTarget(request, dialect, true), BadAuthzRequest);
    });
  }

  it('forwarded headers from a peer that is not a trusted proxy, however well-formed', () => {
    assert.throws(() => resolveTarget(nginx('https://a.example.test/'), 'auth-request', false), BadAuthzRequest);
    assert.throws(() => resolveTarget(traefik('https', 'a.example.test', '/'), 'forward-auth', false), BadAuthzRequest);
  });

  it('dot segments are refused, not resolved: the upstream gets /public/../admin raw and may route it as /public', () => {
    assert.throws(() => parseTarget('https://a.example.test/public/../admin', 'GET'), BadAuthzRequest);
    assert.throws(() => parseTarget('https://a.example.test/public/%2e%2E/admin', 'GET'), BadAuthzRequest);
  });

  it('a host the URL parser would rewrite, or with a trailing dot, is refused (not stripped)', () => {
    for (const url of ['https://a.example.test./', 'https://A.Example.Test./x', 'https://a%2eexample.test/', 'https://\u212Aa.example.test/', 'https:///a.example.test/']) {
      assert.throws(() => parseTarget(url, 'GET'), BadAuthzRequest, url);
    }
    assert.equal(parseTarget('https://A.Example.Test:443/x', 'GET').host, 'a.example.test');
    assert.equal(parseTarget('http://[::1]:9091/', 'GET').host, '[::1]');
  });

  it("a '#' in the target is refused, not cut off", () => {
    assert.throws(() => parseTarget('https://a.example.test/public/x#/../../admin', 'GET'), BadAuthzRequest);
    assert.throws(() => parseTarget('https://a.example.test/public?x#y', 'GET'), BadAuthzRequest);
  });

  it('legacy: X-Original-URL and a complete X-Forwarded-* set must name the same request', () => {
    const both = (original: string, host: string, uri: string, method = 'GET') =>
      req({ 'x-original-url': original, 'x-forwarded-proto': 'https', 'x-forwarded-host': host, 'x-forwarded-uri': uri, 'x-forwarded-method': method }, { method: 'GET' });
    // a client-added X-Original-URL (Caddy/Traefik pass it through) naming a bypass host
    assert.throws(() => resolveTarget(both('https://public.example.test/', 'app.example.test', '/secret'), 'legacy', true), BadAuthzRequest);
    assert.throws(() => resolveTarget(both('https://app.example.test/public', 'app.example.test', '/secret'), 'legacy', true), BadAuthzRequest);
    assert.throws(() => resolveTarget(both('https://app.example.test/x', 'app.example.test', '/x', 'POST'), 'legacy', true), BadAuthzRequest, 'methods differ');
    // Authelia's nginx snippets send both, built from the same variables
    const agreed = resolveTarget(both('https://app.example.test:8443/x?y=1', 'app.example.test', '/x?y=1'), 'legacy', true);
    assert.equal(agreed.url.href, 'https://app.example.test:8443/x?y=1');
  });

  it('plain http is accepted for loopback hosts only', () => {
    for (const host of ['localhost', '127.0.0.1', 'app.localhost', '[::1]']) assert.doesNotThrow(() => parseTarget(`http://${host}:9091/`, 'GET'), host);
  });
});

describe('the embedded proxy takes its target from the request itself', () => {
  it('scheme from the listener; X-Forwarded-Proto only from a trusted peer', () => {
    const request = req({ host: 'localhost:9091', 'x-forwarded-proto': 'https' }, { url: '/app?x=1' });
    assert.equal(targetFromRequest(request, 'http', false).url.href, 'http://localhost:9091/app?x=1');
    assert.equal(targetFromRequest(request, 'http', true).url.href, 'https://localhost:9091/app?x=1');
  });

  it('a WebSocket upgrade is a ws(s) target', () => {
    const request = req({ host: 'app.example.test', upgrade: 'websocket' }, { url: '/socket' });
    assert.equal(targetFromRequest(request, 'https', false).url.protocol, 'wss:');
  });

  it('canonicalRequestHost: the host the rules will see, or null for a Host they would read differently', () => {
    assert.equal(canonicalRequestHost('WWW.Example.Test:8080'), 'www.example.test');
    assert.equal(canonicalRequestHost('[::1]:9091'), '[::1]');
    for (const host of [undefined, '', 'www.example.test.', 'www%2eexample.test', 'WWW.Example.Test.', 'a.example.test/x', 'evil.test@a.example.test', 'www\uff0eexample.test', '\u212Aey.example.test']) {
      assert.equal(canonicalRequestHost(host), null, JSON.stringify(host));
    }
  });

  it('a missing or malformed Host, or an absolute-form request target, is refused', () => {
    for (const [headers, url] of [[{}, '/'], [{ host: 'a.example.test/x' }, '/'], [{ host: 'evil.test@a.example.test' }, '/'], [{ host: 'a.example.test' }, 'https://b.example.test/']] as const) {
      assert.throws(() => targetFromRequest(req(headers, { url }), 'https', false), BadAuthzRequest, JSON.stringify([headers, url]));
    }
  });
});
