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
});
