import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSafeRedirect } from '../../../gateway/authz/redirect.ts';

const domains = ['example.com', 'localhost', 'Home.Lan'];

describe('isSafeRedirect: targets inside a cookie domain are followed', () => {
  const good: [string, string][] = [
    ['https://example.com/', 'https://example.com/'],
    ['https://app.example.com/dashboard?tab=1#top', 'https://app.example.com/dashboard?tab=1#top'],
    ['https://a.b.example.com:8443/x', 'https://a.b.example.com:8443/x'],
    ['HTTPS://APP.EXAMPLE.COM/Path', 'https://app.example.com/Path'],
    ['https://cloud.example.com/apps/files/?dir=/My%20Documents', 'https://cloud.example.com/apps/files/?dir=/My%20Documents'],
    ['https://nas.home.lan/', 'https://nas.home.lan/'],
    ['http://localhost:9091/settings', 'http://localhost:9091/settings'],
  ];
  for (const [target, href] of good) {
    it(target, () => assert.equal(isSafeRedirect(target, domains)?.href, href));
  }
  it('returns the parsed URL', () => {
    const url = isSafeRedirect('https://app.example.com/x?y=1', domains);
    assert.ok(url instanceof URL);
    assert.equal(url.hostname, 'app.example.com');
    assert.equal(url.search, '?y=1');
  });
  it('an IP cookie domain allows exactly that address', () => {
    assert.equal(isSafeRedirect('https://192.168.1.10/', ['192.168.1.10'])?.hostname, '192.168.1.10');
    assert.equal(isSafeRedirect('http://127.0.0.1:9091/', ['127.0.0.1'])?.hostname, '127.0.0.1');
    assert.equal(isSafeRedirect('http://[::1]:9091/', ['::1'])?.hostname, '[::1]');
  });
});

describe('isSafeRedirect: every other form goes to the default URL', () => {
  const hostile: [string, string][] = [
    ['//evil.com/', 'scheme-relative'],
    ['///evil.com/', 'triple slash'],
    ['/\\evil.com', 'slash-backslash (browsers read //evil.com)'],
    ['/dashboard', 'relative path (not absolute)'],
    ['https:evil.com', 'scheme without //'],
    ['https:/evil.com', 'scheme with one slash'],
    ['https:///app.example.com', 'scheme with three slashes'],
    ['javascript:alert(1)//example.com', 'javascript:'],
    ['JaVaScRiPt:alert(document.domain)', 'javascript: mixed case'],
    ['data:text/html,<script>alert(1)</script>', 'data:'],
    ['ftp://app.example.com/', 'other scheme'],
    ['wss://app.example.com/', 'websocket scheme'],
    ['http://app.example.com/', 'plain http on a non-loopback host'],
    ['https://evil.com/', 'foreign host'],
    ['https://evilexample.com/', 'suffix look-alike without a dot boundary'],
    ['https://example.com.evil.com/', 'cookie domain as a left label'],
    ['https://app.example.com@evil.com/', 'userinfo hiding the real host'],
    ['https://user:pass@app.example.com/', 'userinfo on our own host'],
    ['https://@app.example.com/', 'empty userinfo'],
    ['https://evil.com\\@app.example.com/', 'backslash before @'],
    ['https://evil.com\\.example.com/', 'backslash in host'],
    ['https://evil.com#@app.example.com', 'fragment hiding the host'],
    ['https://evil.com?.example.com', 'query hiding the host'],
    ['https://evil.com%2F.example.com/', 'encoded slash in host'],
    ['https://app.example.com%2eevil.com/', 'encoded dot in host'],
    ['https://app.example.com%00.evil.com/', 'encoded NUL in host'],
    [' https://app.example.com/', 'leading space (WHATWG trims it)'],
    ['\thttps://app.example.com/', 'leading tab'],
    ['https://app.example.com/\r\nSet-Cookie: a=b', 'raw CRLF (header injection)'],
    ['https://app.exam\nple.com/', 'newline inside the host (WHATWG strips it)'],
    ['https://app.example.com/%0d%0aSet-Cookie:%20a=b', 'encoded CRLF'],
    ['https://app.example.com/%09', 'encoded tab'],
    ['https://app.example.com/\u0000', 'raw NUL'],
    ['https://exаmple.com/', 'IDN homograph (Cyrillic а) is a different punycode host'],
    ['https://example.com./', 'trailing dot'],
    ['https://localhost.evil.com/', 'localhost as a left label'],
    ['http://localhost.evil.com/', 'plain http on a look-alike of localhost'],
    ['https://', 'no host'],
    ['', 'empty'],
    ['https://app.example.com/' + 'a'.repeat(9000), 'absurdly long'],
  ];
  for (const [target, why] of hostile) {
    it(`${why}: ${JSON.stringify(target.slice(0, 60))}`, () => assert.equal(isSafeRedirect(target, domains), null));
  }
  it('no cookie domains: nothing is safe', () => {
    assert.equal(isSafeRedirect('https://app.example.com/', []), null);
  });
  it('an IP cookie domain has no subdomains', () => {
    assert.equal(isSafeRedirect('https://1.192.168.1.10/', ['192.168.1.10']), null);
  });
});
