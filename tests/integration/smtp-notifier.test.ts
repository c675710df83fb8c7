// The SMTP notifier against a real SMTP server (smtp-server) started here on a free port: STARTTLS with
// a self-signed certificate the test process trusts, implicit TLS for submissions://, a server without
// STARTTLS, AUTH checked by the server, a closed port, and the stall proxy for a server that hangs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { stringify } from 'yaml';
import { notifierProblems } from '../../gateway/config/validate/notifier.ts';
import { gatewayConfigSchema } from '../../gateway/config/schema.ts';
import { StartupCheckError } from '../../gateway/startup-checks.ts';
import { NotifierError, type Notifier } from '../../gateway/notification/notifier.ts';
import { openNotifier } from '../../gateway/notification/open.ts';
import { renderEmail } from '../../gateway/notification/templates.ts';
import { generateSecret } from '../../lib/secret-strength.ts';
import { runGatehouse } from '../helpers/cli.ts';
import { freePort } from '../helpers/ports.ts';
import { startSmtpServer, type SmtpServerOptions, type TestSmtpServer } from '../helpers/smtp-server.ts';
import { startStallProxy } from '../helpers/stall-proxy.ts';
import { makeCertificate, type TestCertificate } from '../helpers/tls.ts';
import { startInProcessGateway } from '../helpers/inprocess-gateway.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const PASSWORD = 'correct horse battery staple';
const USERS = { mailer: PASSWORD };
const SENDER = 'Gatehouse <auth@example.com>';
const ALICE = { address: 'alice@example.com', name: 'Alice Liddell' };

/** `notifier` as the schema leaves it (defaults filled in), from what a config file would hold. */
function notifierConfig(smtp: Record<string, unknown>) {
  return gatewayConfigSchema.parse({ notifier: { smtp: { sender: SENDER, ...smtp } } }).notifier!;
}

function smtpNotifier(smtp: Record<string, unknown>): Notifier {
  return openNotifier(notifierConfig(smtp))!;
}

const resetMessage = (language: 'en' | 'es' = 'en') =>
  renderEmail({
    language,
    title: language === 'en' ? 'Reset your password' : 'Restablece tu contraseña',
    displayName: ALICE.name,
    lines: ['Someone asked to reset the password of <your> account.'],
    link: { url: 'https://auth.example.com/reset?token=abc&x=1', text: 'Reset the password' },
    remoteIp: '192.0.2.10',
  });

const lf = (text: string | undefined) => text?.replace(/\r\n/g, '\n');

let trusted: TestCertificate;
let untrusted: TestCertificate;
const defaultCAs = getCACertificates('default');
before(async () => {
  trusted = await makeCertificate(['127.0.0.1']);
  untrusted = await makeCertificate(['mail.test']);
  // as if the certificate were in the system's CA store; the other one is trusted by no one
  setDefaultCACertificates([...defaultCAs, trusted.certPem]);
});
after(async () => {
  setDefaultCACertificates(defaultCAs);
  await trusted?.cleanup();
  await untrusted?.cleanup();
});

async function server(t: { after(fn: () => Promise<void>): void }, options: Partial<SmtpServerOptions> = {}): Promise<TestSmtpServer> {
  const started = await startSmtpServer({ tls: 'starttls', certificate: trusted, users: USERS, ...options });
  t.after(() => started.close());
  return started;
}

function assertNotifierError(code: 'notification_failed' | 'notifier_unavailable', message: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof NotifierError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, message);
    assert.ok(!error.message.includes(PASSWORD), `the password is in: ${error.message}`);
    return true;
  };
}

describe('sending: what the recipient receives', () => {
  it('subject from notifier.smtp.subject with {title}, From the sender, To the recipient, both bodies, over STARTTLS after AUTH PLAIN', async (t) => {
    const smtp = await server(t);
    const notifier = smtpNotifier({ address: `smtp://127.0.0.1:${smtp.port}`, username: 'mailer', password: PASSWORD, identifier: 'gatehouse.example.com' });
    const message = resetMessage();
    await notifier.send(ALICE, message);

    assert.equal(smtp.received.length, 1);
    const [mail] = smtp.received;
    assert.equal(mail!.headers.get('subject'), '[Gatehouse] Reset your password');
    assert.equal(mail!.headers.get('from'), SENDER);
    assert.equal(mail!.headers.get('to'), 'Alice Liddell <alice@example.com>');
    assert.equal(mail!.envelopeFrom, 'auth@example.com');
    assert.deepEqual(mail!.envelopeTo, ['alice@example.com']);
    assert.equal(mail!.secure, true);
    assert.equal(mail!.user, 'mailer');
    assert.deepEqual(smtp.logins, ['PLAIN mailer']);
    assert.deepEqual(smtp.ehloNames, ['gatehouse.example.com']);
    assert.equal(lf(mail!.text)!.trimEnd(), message.text.trimEnd());
    assert.equal(lf(mail!.html)!.trimEnd(), message.html.trimEnd());
    // the body reads as English, every value escaped in HTML and not in the text
    assert.match(mail!.text, /^Reset your password\r?\n\r?\nHello Alice Liddell,/);
    assert.match(mail!.text, /Reset the password: https:\/\/auth\.example\.com\/reset\?token=abc&x=1/);
    assert.match(mail!.text, /This e-mail was sent after a request from 192\.0\.2\.10\./);
    assert.match(mail!.html!, /<html lang="en">/);
    assert.match(mail!.html!, /<p>Someone asked to reset the password of &lt;your&gt; account\.<\/p>/);
    assert.match(mail!.html!, /href="https:\/\/auth\.example\.com\/reset\?token=abc&amp;x=1"/);
  });

  it('Spanish strings when the language is es, non-ASCII subject and name encoded and read back', async (t) => {
    const smtp = await server(t);
    const notifier = smtpNotifier({ address: `smtp://127.0.0.1:${smtp.port}`, username: 'mailer', password: PASSWORD, subject: '[Puerta] {title}' });
    await notifier.send({ address: 'jose@example.com', name: 'José Núñez' }, resetMessage('es'));
    const [mail] = smtp.received;
    assert.equal(mail!.headers.get('subject'), '[Puerta] Restablece tu contraseña');
    assert.equal(mail!.headers.get('to'), 'José Núñez <jose@example.com>');
    assert.match(mail!.text, /Hola, Alice Liddell:/);
    assert.match(mail!.text, /Este correo se envió tras una solicitud desde 192\.0\.2\.10\./);
    assert.match(mail!.html!, /<html lang="es">/);
    assert.match(mail!.html!, /Si no fuiste tú, ignora este correo/);
  });

  it('AUTH LOGIN when that is what the server offers', async (t) => {
    const smtp = await server(t, { authMethods: ['LOGIN'] });
    await smtpNotifier({ address: `smtp://127.0.0.1:${smtp.port}`, username: 'mailer', password: PASSWORD }).send(ALICE, resetMessage());
    assert.deepEqual(smtp.logins, ['LOGIN mailer']);
    assert.equal(smtp.received.length, 1);
  });

  it('disable_html_emails: the text body alone', async (t) => {
    const smtp = await server(t);
    await smtpNotifier({ address: `smtp://127.0.0.1:${smtp.port}`, username: 'mailer', password: PASSWORD, disable_html_emails: true }).send(ALICE, resetMessage());
    const [mail] = smtp.received;
    assert.equal(mail!.html, undefined);
    assert.match(mail!.headers.get('content-type')!, /^text\/plain/);
    assert.match(mail!.text, /Hello Alice Liddell,/);
  });

  it('submissions:// speaks TLS from the first byte', async (t) => {
    const smtp = await server(t, { tls: 'implicit' });
    await smtpNotifier({ address: `submissions://127.0.0.1:${smtp.port}`, username: 'mailer', password: PASSWORD }).send(ALICE, resetMessage());
    assert.equal(smtp.received.length, 1);
    assert.equal(smtp.received[0]!.secure, true);
  });

  it('a wrong password: notification_failed naming the refusal, without the password, nothing delivered', async (t) => {
    const smtp = await server(t, { users: { mailer: 'another password' } });
    await assert.rejects(
      smtpNotifier({ address: `smtp://127.0.0.1:${smtp.port}`, username: 'mailer', password: PASSWORD }).send(ALICE, resetMessage()),
      assertNotifierError('notification_failed', new RegExp(`^notifier: smtp: cannot send to alice@example.com through 127\\.0\\.0\\.1:${smtp.port}: the server refused the username or password \\(535`)),
    );
    assert.deepEqual(smtp.received, []);
  });

  it('a recipient that would add a header is refused before connecting', async (t) => {
    const smtp = await server(t);
    await assert.rejects(
      smtpNotifier({ address: `smtp://127.0.0.1:${smtp.port}`, username: 'mailer', password: PASSWORD }).send({ address: 'alice@example.com', name: 'Alice\r\nBcc: eve@example.com' }, resetMessage()),
      assertNotifierError('notification_failed', /recipient name holds a line break/),
    );
    assert.deepEqual(smtp.envelopeCommands, []);
  });
});

describe('TLS is required unless turned off, and the certificate is checked', () => {
  it('a server that does not offer STARTTLS gets nothing: no MAIL FROM, no credentials', async (t) => {
    const smtp = await server(t, { tls: 'none' });
    const notifier = smtpNotifier({ address: `smtp://127.0.0.1:${smtp.port}`, username: 'mailer', password: PASSWORD });
    await assert.rejects(notifier.send(ALICE, resetMessage()), assertNotifierError('notification_failed', /no TLS: .*STARTTLS is required unless notifier\.smtp\.disable_require_tls is true/));
    await assert.rejects(notifier.startupCheck(), assertNotifierError('notifier_unavailable', /no TLS/));
    assert.deepEqual(smtp.envelopeCommands, []);
    assert.deepEqual(smtp.logins, []);
  });

  it('disable_require_tls: sent in clear text, and the configuration says so in a warning', async (t) => {
    const smtp = await server(t, { tls: 'none' });
    const config = { address: `smtp://127.0.0.1:${smtp.port}`, username: 'mailer', password: PASSWORD, disable_require_tls: true };
    await smtpNotifier(config).send(ALICE, resetMessage());
    assert.equal(smtp.received[0]!.secure, false);
    assert.deepEqual(notifierProblems(notifierConfig(config)), [
      { path: 'notifier.smtp.disable_require_tls', message: 'is true: mail may be sent in clear text', severity: 'warning' },
    ]);
  });

  it('disable_starttls with disable_require_tls never upgrades, even when the server offers it', async (t) => {
    const smtp = await server(t, { users: {} });
    await smtpNotifier({ address: `smtp://127.0.0.1:${smtp.port}`, disable_require_tls: true, disable_starttls: true }).send(ALICE, resetMessage());
    assert.equal(smtp.received[0]!.secure, false);
  });

  it('a certificate no CA vouches for is refused; tls.skip_verify accepts it, with a warning', async (t) => {
    const smtp = await server(t, { certificate: untrusted });
    const base = { address: `smtp://127.0.0.1:${smtp.port}`, username: 'mailer', password: PASSWORD };
    await assert.rejects(smtpNotifier(base).send(ALICE, resetMessage()), assertNotifierError('notification_failed', /self-signed certificate|unable to verify|certificate/i));
    assert.deepEqual(smtp.logins, []);
    const skipping = { ...base, tls: { skip_verify: true } };
    await smtpNotifier(skipping).send(ALICE, resetMessage());
    assert.equal(smtp.received.length, 1);
    assert.deepEqual(notifierProblems(notifierConfig(skipping)), [
      { path: 'notifier.smtp.tls.skip_verify', message: "is true: the SMTP server's certificate is not checked", severity: 'warning' },
    ]);
  });

  it('tls.server_name is the name the certificate must carry when the address is an IP', async (t) => {
    setDefaultCACertificates([...defaultCAs, trusted.certPem, untrusted.certPem]);
    t.after(() => setDefaultCACertificates([...defaultCAs, trusted.certPem]));
    const smtp = await server(t, { certificate: untrusted });
    const base = { address: `smtp://127.0.0.1:${smtp.port}`, username: 'mailer', password: PASSWORD };
    await assert.rejects(smtpNotifier(base).send(ALICE, resetMessage()), assertNotifierError('notification_failed', /altnames|127\.0\.0\.1/i));
    await smtpNotifier({ ...base, tls: { server_name: 'mail.test' } }).send(ALICE, resetMessage());
    assert.equal(smtp.received.length, 1);
  });
});

describe('the startup check asks whether mail would be accepted, and sends none', () => {
  it('connects, STARTTLS, AUTH, MAIL FROM the sender, RCPT TO startup_check_address (test@authelia.com by default), then resets', async (t) => {
    const smtp = await server(t);
    await smtpNotifier({ address: `submission://127.0.0.1:${smtp.port}`, username: 'mailer', password: PASSWORD }).startupCheck();
    assert.deepEqual(smtp.logins, ['PLAIN mailer']);
    assert.deepEqual(smtp.envelopeCommands, ['MAIL auth@example.com', 'RCPT test@authelia.com']);
    assert.deepEqual(smtp.received, []);
  });

  it('a wrong password', async (t) => {
    const smtp = await server(t, { users: { mailer: 'another password' } });
    await assert.rejects(
      smtpNotifier({ address: `smtp://127.0.0.1:${smtp.port}`, username: 'mailer', password: PASSWORD }).startupCheck(),
      assertNotifierError('notifier_unavailable', new RegExp(`^notifier: smtp: 127\\.0\\.0\\.1:${smtp.port}: the server refused the username or password \\(535`)),
    );
    assert.deepEqual(smtp.envelopeCommands, []);
  });

  it('a recipient the server refuses', async (t) => {
    const smtp = await server(t, { refuseRecipients: ['postmaster@example.com'] });
    await assert.rejects(
      smtpNotifier({ address: `smtp://127.0.0.1:${smtp.port}`, username: 'mailer', password: PASSWORD, startup_check_address: 'postmaster@example.com' }).startupCheck(),
      assertNotifierError('notifier_unavailable', /: RCPT TO was refused: 550 No such user here$/),
    );
    assert.deepEqual(smtp.received, []);
  });

  it('a closed port', async () => {
    const port = await freePort();
    await assert.rejects(smtpNotifier({ address: `smtp://127.0.0.1:${port}` }).startupCheck(), assertNotifierError('notifier_unavailable', new RegExp(`^notifier: smtp: 127\\.0\\.0\\.1:${port}: connection refused$`)));
  });

  it('a server that accepts the connection and says nothing fails after notifier.smtp.timeout', { timeout: 15_000 }, async (t) => {
    const smtp = await server(t);
    const proxy = await startStallProxy({ host: smtp.host, port: smtp.port });
    t.after(() => proxy.close());
    proxy.stall();
    const started = Date.now();
    await assert.rejects(
      smtpNotifier({ address: `smtp://127.0.0.1:${proxy.port}`, username: 'mailer', password: PASSWORD, timeout: '1s' }).startupCheck(),
      assertNotifierError('notifier_unavailable', /no answer within 1s$/),
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 900 && elapsed < 5_000, `took ${elapsed} ms`);
    await assert.rejects(
      smtpNotifier({ address: `smtp://127.0.0.1:${proxy.port}`, timeout: '1s' }).send(ALICE, resetMessage()),
      assertNotifierError('notification_failed', /no answer within 1s$/),
    );
  });
});

describe('a gateway start checks the SMTP server', () => {
  it('refused: the start stops with a line naming the server', async () => {
    const port = await freePort();
    await assert.rejects(
      startInProcessGateway({ config: { access_control: { default_policy: 'one_factor' }, notifier: { smtp: { address: `smtp://127.0.0.1:${port}`, sender: SENDER } } } }),
      (error: unknown) => {
        assert.ok(error instanceof StartupCheckError);
        assert.equal(error.message, `startup check failed: notifier: smtp: 127.0.0.1:${port}: connection refused`);
        return true;
      },
    );
  });

  it('accepted: the gateway starts, and the check sent nothing', async (t) => {
    const smtp = await server(t);
    const gateway = await startInProcessGateway({
      config: { access_control: { default_policy: 'one_factor' }, notifier: { smtp: { address: `smtp://127.0.0.1:${smtp.port}`, sender: SENDER, username: 'mailer', password: PASSWORD } } },
    });
    t.after(() => gateway.close());
    assert.deepEqual(smtp.envelopeCommands, ['MAIL auth@example.com', 'RCPT test@authelia.com']);
    assert.deepEqual(smtp.received, []);
  });
});

describe('gatehouse config validate --check', () => {
  it('one line for the SMTP server: ok when it would take the mail, failed naming why', async (t) => {
    const smtp = await server(t);
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    await writeFile(join(temp.dir, 'users.yml'), 'users: {}\n', { mode: 0o600 });
    const write = async (name: string, smtpConfig: Record<string, unknown>) => {
      const path = join(temp.dir, name);
      await writeFile(path, stringify({
        authentication_backend: { file: { path: join(temp.dir, 'users.yml') } },
        access_control: { default_policy: 'one_factor' },
        session: { secret: generateSecret(), cookies: [{ domain: 'example.com', authelia_url: 'https://auth.example.com' }] },
        storage: { encryption_key: generateSecret(), local: { path: join(temp.dir, 'db.sqlite3') } },
        notifier: { smtp: { sender: SENDER, username: 'mailer', ...smtpConfig } },
      }), { mode: 0o600 });
      return path;
    };
    const address = `submission://127.0.0.1:${smtp.port}`;
    const good = await write('good.yml', { address, password: PASSWORD });
    const ok = await runGatehouse(['config', 'validate', '--config', good, '--check'], { GATEHOUSE_DATA: join(temp.dir, 'data') });
    assert.match(ok.out, new RegExp(`^notifier: ok \\(smtp: submission://127\\.0\\.0\\.1:${smtp.port} accepts mail from Gatehouse <auth@example\\.com> to test@authelia\\.com\\)$`, 'm'));
    assert.equal(ok.code, 0, ok.err);

    // the password from a file, as GATEHOUSE_NOTIFIER_SMTP_PASSWORD_FILE names it, and the wrong one
    const secret = join(temp.dir, 'smtp-password');
    await writeFile(secret, 'Tr0ub4dor&3xyzzy\n', { mode: 0o600 });
    const bad = await write('bad.yml', { address });
    const failed = await runGatehouse(['config', 'validate', '--config', bad, '--check'], { GATEHOUSE_DATA: join(temp.dir, 'data'), GATEHOUSE_NOTIFIER_SMTP_PASSWORD_FILE: secret });
    assert.match(failed.err, new RegExp(`^notifier: failed: smtp: 127\\.0\\.0\\.1:${smtp.port}: the server refused the username or password \\(535`, 'm'));
    assert.ok(!failed.err.includes('Tr0ub4dor&3xyzzy'));
    assert.equal(failed.code, 3);
  });
});
