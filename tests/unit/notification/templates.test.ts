import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EMAIL_LANGUAGES, emailStrings, fillPlaceholders, renderEmail, type EmailLanguage } from '../../../gateway/notification/templates.ts';

describe('e-mail templates: one message in HTML and plain text, English or Spanish', () => {
  it('every catalogue has the same keys, each a non-empty string', () => {
    const keys = Object.keys(emailStrings('en')).sort();
    assert.ok(keys.length > 5);
    for (const language of EMAIL_LANGUAGES) {
      const strings = emailStrings(language);
      assert.deepEqual(Object.keys(strings).sort(), keys, language);
      for (const [key, value] of Object.entries(strings)) assert.ok(typeof value === 'string' && value.trim() !== '', `${language}.${key}`);
    }
  });

  it('the plain-text body: title, greeting, lines, code, link, footer with the remote address', () => {
    const message = renderEmail({
      language: 'en',
      title: 'Your one-time code',
      displayName: 'Alice',
      lines: ['Enter this code to confirm it is you.'],
      code: '381 204',
      link: { url: 'https://auth.example.com/confirm', text: 'Confirm' },
      remoteIp: '2001:db8::1',
    });
    assert.equal(message.subject, 'Your one-time code');
    assert.equal(
      message.text,
      'Your one-time code\n\nHello Alice,\n\nEnter this code to confirm it is you.\n\nYour code: 381 204\n\nConfirm: https://auth.example.com/confirm\n\n--\n'
        + 'This e-mail was sent after a request from 2001:db8::1.\nIf this was not you, ignore this e-mail and tell your administrator.\n',
    );
  });

  it('Spanish strings for es; without a display name or remote address, the greeting and footer say less', () => {
    const message = renderEmail({ language: 'es', title: 'Se cambió tu contraseña', lines: ['Se acaba de cambiar la contraseña de tu cuenta.'] });
    assert.equal(message.text, 'Se cambió tu contraseña\n\nHola:\n\nSe acaba de cambiar la contraseña de tu cuenta.\n\n--\nSi no fuiste tú, ignora este correo y avisa a tu administrador.\n');
    assert.match(message.html, /<html lang="es">/);
    assert.doesNotMatch(message.html, /solicitud desde/);
  });

  it('HTML escapes every value (title, name, lines, code, link), the text body keeps them as written', () => {
    const message = renderEmail({
      language: 'en',
      title: '<script>alert(1)</script>',
      displayName: 'Eve "<b>"',
      lines: ['a & b <img src=x onerror=alert(1)>'],
      code: '<i>1</i>',
      link: { url: 'https://auth.example.com/r?a=1&b="><script>', text: '<u>go</u>' },
      remoteIp: '<ip>',
    });
    assert.doesNotMatch(message.html, /<script>|<img|<b>|<i>1|<u>|<ip>/);
    assert.match(message.html, /<title>&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/title>/);
    assert.match(message.html, /<p>Hello Eve &quot;&lt;b&gt;&quot;,<\/p>/);
    assert.match(message.html, /<p>a &amp; b &lt;img src=x onerror=alert\(1\)&gt;<\/p>/);
    assert.match(message.html, /href="https:\/\/auth\.example\.com\/r\?a=1&amp;b=&quot;&gt;&lt;script&gt;"/);
    assert.match(message.text, /^<script>alert\(1\)<\/script>\n\nHello Eve "<b>",\n\na & b <img src=x onerror=alert\(1\)>\n/);
  });

  it('a link that is not http(s) and a language without a catalogue are refused', () => {
    assert.throws(() => renderEmail({ language: 'en', title: 't', lines: [], link: { url: 'javascript:alert(1)', text: 'x' } }), /link must be an http\(s\) URL/);
    assert.throws(() => renderEmail({ language: 'fr' as EmailLanguage, title: 't', lines: [] }), /no catalogue for the language 'fr'/);
  });

  it('placeholders are filled from the values given, others left as written', () => {
    assert.equal(fillPlaceholders(emailStrings('en').device_added_body!, { device: 'YubiKey 5' }), "The device 'YubiKey 5' can now be used to sign in to your account.");
    assert.equal(fillPlaceholders('{a} {b}', { a: 'x' }), 'x {b}');
  });
});
