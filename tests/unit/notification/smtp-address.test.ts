import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSender, parseSmtpAddress } from '../../../gateway/notification/smtp-address.ts';

describe('notifier.smtp.address: Authelia schemes and their default ports', () => {
  it('smtp:// 25 and submission:// 587 with STARTTLS, submissions:// 465 with TLS from the start', () => {
    assert.deepEqual(parseSmtpAddress('smtp://mail.example.com'), { host: 'mail.example.com', port: 25, implicitTls: false });
    assert.deepEqual(parseSmtpAddress('submission://mail.example.com'), { host: 'mail.example.com', port: 587, implicitTls: false });
    assert.deepEqual(parseSmtpAddress('submissions://mail.example.com'), { host: 'mail.example.com', port: 465, implicitTls: true });
    assert.deepEqual(parseSmtpAddress('smtp://[::1]:2525'), { host: '::1', port: 2525, implicitTls: false });
  });

  it('anything else is a problem naming the address', () => {
    assert.deepEqual(parseSmtpAddress('mail.example.com:25'), { problem: "'mail.example.com:25' has the scheme 'mail.example.com': use smtp, submission or submissions" });
    assert.deepEqual(parseSmtpAddress('smtps://mail.example.com'), { problem: "'smtps://mail.example.com' has the scheme 'smtps': use smtp, submission or submissions" });
    assert.deepEqual(parseSmtpAddress('smtp://user:pw@mail.example.com'), { problem: "'smtp://user:pw@mail.example.com' holds credentials: set 'username' and 'password' instead" });
    assert.deepEqual(parseSmtpAddress('smtp://mail.example.com/x'), { problem: "'smtp://mail.example.com/x' has a path, query or fragment" });
    assert.deepEqual(parseSmtpAddress('not a url'), { problem: "'not a url' is not a URL such as 'submission://smtp.example.com:587'" });
  });
});

describe('notifier.smtp.sender: an address with an optional display name', () => {
  it('reads the forms people write', () => {
    assert.deepEqual(parseSender('auth@example.com'), { address: 'auth@example.com' });
    assert.deepEqual(parseSender('Gatehouse <auth@example.com>'), { address: 'auth@example.com', name: 'Gatehouse' });
    assert.deepEqual(parseSender('"Gatehouse, Inc." <auth@example.com>'), { address: 'auth@example.com', name: 'Gatehouse, Inc.' });
    assert.deepEqual(parseSender('<auth@example.com>'), { address: 'auth@example.com' });
  });

  it('refuses what is not one mailbox', () => {
    for (const value of ['Gatehouse', 'a@example.com, b@example.com', 'A <a@example.com> <b@example.com>', 'A\r\n<a@example.com>', '<not an address>']) {
      assert.equal(parseSender(value), null, value);
    }
  });
});
