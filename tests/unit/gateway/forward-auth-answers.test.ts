import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { escapeHtml, headerValue, portalRedirect, wantsRedirect } from '../../../gateway/authz/answer.ts';
import { parseTarget } from '../../../gateway/authz/target.ts';
import { isIdentityHeader, stripIdentityHeaders, withoutCookies } from '../../../gateway/proxy/embedded-proxy.ts';

const asked = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('who is redirected to the portal and who gets a plain 401 (Authelia’s rule)', () => {
  it('browsers (text/html anywhere, or */* first) are redirected', () => {
    for (const accept of ['text/html', 'text/html,application/xhtml+xml,*/*;q=0.8', '*/*', 'application/json, text/html', '*/*;q=0.1']) {
      assert.equal(wantsRedirect(asked({ accept })), true, accept);
    }
  });

  it('API clients, XHR and requests without Accept get 401', () => {
    for (const headers of [{ accept: 'application/json' }, { accept: 'application/json, */*' }, {}, { accept: 'text/html', 'x-requested-with': 'XMLHttpRequest' }] as Record<string, string>[]) {
      assert.equal(wantsRedirect(asked(headers)), false, JSON.stringify(headers));
    }
  });
});

describe('the portal redirect carries the target and method', () => {
  it('<portal>?rd=<target>&rm=<method>, encoded', () => {
    const location = portalRedirect(new URL('https://auth.example.test/'), parseTarget('https://app.example.test/a?b=1&c=d%20e', 'POST'));
    const url = new URL(location);
    assert.equal(`${url.origin}${url.pathname}`, 'https://auth.example.test/');
    assert.equal(url.searchParams.get('rd'), 'https://app.example.test/a?b=1&c=d%20e');
    assert.equal(url.searchParams.get('rm'), 'POST');
  });

  it('a portal on a sub-path keeps it', () => {
    const url = new URL(portalRedirect(new URL('http://localhost:9091/auth/'), parseTarget('http://localhost:9091/app', 'GET')));
    assert.equal(url.pathname, '/auth/');
  });
});

describe('identity header values cannot split a response', () => {
  it('line breaks and NUL become spaces; UTF-8 travels as bytes', () => {
    assert.equal(headerValue('Alice\r\nSet-Cookie: x=1'), 'Alice  Set-Cookie: x=1');
    assert.equal(Buffer.from(headerValue('Zoë'), 'latin1').toString('utf8'), 'Zoë');
    assert.equal(headerValue(undefined), '');
  });

  it('escapeHtml for the redirect body', () => {
    assert.equal(escapeHtml(`"><script>'&`), '&#34;&#62;&#60;script&#62;&#39;&#38;');
  });
});

describe('the embedded proxy removes every spelling of an identity header and the session cookie', () => {
  it('any header an app could read as Remote-*', () => {
    for (const name of ['Remote-User', 'remote_user', 'REMOTE-GROUPS', 'Remote_Email', 'remote-name']) assert.equal(isIdentityHeader(name), true, name);
    for (const name of ['x-remote-user', 'remoteuser', 'cookie', 'authorization']) assert.equal(isIdentityHeader(name), false, name);
  });

  it('stripIdentityHeaders clears headers and rawHeaders alike', () => {
    const req = {
      headers: { 'remote-user': 'root', remote_groups: 'admins', accept: '*/*' },
      rawHeaders: ['Remote-User', 'root', 'remote_groups', 'admins', 'Accept', '*/*'],
    } as unknown as IncomingMessage;
    stripIdentityHeaders(req);
    assert.deepEqual(req.headers, { accept: '*/*' });
    assert.deepEqual(req.rawHeaders, ['Accept', '*/*']);
  });

  it('withoutCookies drops the named cookies and keeps the rest in order', () => {
    const names = new Set(['gatehouse_session']);
    assert.equal(withoutCookies('a=1; gatehouse_session=s%3Ax.y; b=2', names), 'a=1; b=2');
    assert.equal(withoutCookies('gatehouse_session=x', names), '');
    assert.equal(withoutCookies('gatehouse_session_old=1;gatehouse_session=2;flag', names), 'gatehouse_session_old=1; flag');
  });
});
