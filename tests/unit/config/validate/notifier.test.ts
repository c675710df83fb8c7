import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { notifierProblems } from '../../../../gateway/config/validate/notifier.ts';
import { parsed } from './parsed.ts';

const notifier = (raw: Record<string, unknown> | undefined) => notifierProblems(parsed(raw === undefined ? {} : { notifier: raw }).notifier);

describe('notifier validator', () => {
  it('none, or one of filesystem and smtp, has no problem', () => {
    assert.deepEqual(notifier(undefined), []);
    assert.deepEqual(notifier({ filesystem: { filename: '/var/lib/gatehouse/notification.txt' } }), []);
  });

  it('both is an error at notifier; mail without TLS a warning at its option', () => {
    assert.deepEqual(notifier({ filesystem: { filename: '/n.txt' }, smtp: { sender: 'auth@example.com', disable_require_tls: true } }), [
      { path: 'notifier', message: "set one of 'filesystem' and 'smtp', not both", severity: 'error' },
      { path: 'notifier.smtp.disable_require_tls', message: 'is true: mail may be sent in clear text', severity: 'warning' },
    ]);
  });

  it('smtp: address, sender, startup_check_address, identifier and credentials are checked, each at its option', () => {
    assert.deepEqual(notifier({ smtp: { address: 'smtps://mail.example.com', sender: 'Gatehouse', startup_check_address: 'nobody', identifier: 'my host', username: 'mailer' } }), [
      { path: 'notifier.smtp.address', message: "'smtps://mail.example.com' has the scheme 'smtps': use smtp, submission or submissions", severity: 'error' },
      { path: 'notifier.smtp.sender', message: "'Gatehouse' is not an e-mail address (optionally with a name: 'Gatehouse <auth@example.com>')", severity: 'error' },
      { path: 'notifier.smtp.startup_check_address', message: "'nobody' is not an e-mail address", severity: 'error' },
      { path: 'notifier.smtp.identifier', message: "'my host' is not a host name or address literal (it is sent in EHLO)", severity: 'error' },
      { path: 'notifier.smtp.password', message: "is required when 'username' is set", severity: 'error' },
    ]);
  });

  it('smtp: disable_starttls without disable_require_tls can never send; skip_verify is a warning; submissions:// needs neither', () => {
    assert.deepEqual(notifier({ smtp: { sender: 'auth@example.com', disable_starttls: true, tls: { skip_verify: true } } }), [
      { path: 'notifier.smtp.disable_starttls', message: "is true but TLS is required: also set 'disable_require_tls', or use a submissions:// address", severity: 'error' },
      { path: 'notifier.smtp.tls.skip_verify', message: "is true: the SMTP server's certificate is not checked", severity: 'warning' },
    ]);
    assert.deepEqual(notifier({ smtp: { address: 'submissions://mail.example.com', sender: 'Gatehouse <auth@example.com>', disable_starttls: true, disable_require_tls: true } }), []);
  });
});
