/**
 * certificates_directory end to end: the gateway reads it once at startup and its CAs are what the
 * SMTP notifier trusts (a real smtp-server with a certificate no system CA signed); a file in it that
 * is not a certificate stops the start naming the file. notifier.smtp.tls's client certificate too.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { gatewayConfigSchema } from '../../gateway/config/schema.ts';
import { notifierProblems } from '../../gateway/config/validate/notifier.ts';
import { NotifierError } from '../../gateway/notification/notifier.ts';
import { openNotifier } from '../../gateway/notification/open.ts';
import { StartupCheckError } from '../../gateway/startup-checks.ts';
import { renderProblem } from '../../lib/config-problems.ts';
import { ConfigError } from '../../lib/errors.ts';
import { generateSecret } from '../../lib/secret-strength.ts';
import { loadTrustedCertificates, type TrustedCertificates } from '../../lib/net/trusted-cas.ts';
import { runGatehouse } from '../helpers/cli.ts';
import { startInProcessGateway } from '../helpers/inprocess-gateway.ts';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp-server.ts';
import { makeCertificate, type TestCertificate } from '../helpers/tls.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const SENDER = 'Gatehouse <auth@example.com>';
const ALICE = { address: 'alice@example.com', name: 'Alice Liddell' };
const MESSAGE = { subject: 'Hello', text: 'Hello Alice', html: '<p>Hello Alice</p>' };

let serverCertificate: TestCertificate;
let clientCertificate: TestCertificate;
let certificates: { dir: string; cleanup(): Promise<void> };
let trusted: TrustedCertificates;

before(async () => {
  [serverCertificate, clientCertificate] = await Promise.all([makeCertificate(['127.0.0.1']), makeCertificate(['gatehouse-client'])]);
  certificates = await makeTempDir('gatehouse-cas-');
  await writeFile(join(certificates.dir, 'mail-ca.crt'), serverCertificate.certPem);
  trusted = await loadTrustedCertificates(certificates.dir);
});

after(async () => {
  await certificates?.cleanup();
  await serverCertificate?.cleanup();
  await clientCertificate?.cleanup();
});

async function server(t: { after(fn: () => Promise<void>): void }, options: { clientCa?: TestCertificate } = {}): Promise<TestSmtpServer> {
  const started = await startSmtpServer({ tls: 'starttls', certificate: serverCertificate, ...options });
  t.after(() => started.close());
  return started;
}

const smtpConfig = (smtp: Record<string, unknown>) => gatewayConfigSchema.parse({ notifier: { smtp: { sender: SENDER, ...smtp } } }).notifier!;

describe('the SMTP notifier trusts the CAs of certificates_directory', () => {
  it('with them the mail goes out over STARTTLS; without them the certificate is refused, in words', async (t) => {
    const smtp = await server(t);
    const config = smtpConfig({ address: `smtp://127.0.0.1:${smtp.port}` });
    await openNotifier(config, { trusted })!.send(ALICE, MESSAGE);
    assert.equal(smtp.received.length, 1);
    assert.equal(smtp.received[0]!.secure, true);
    await assert.rejects(openNotifier(config)!.send(ALICE, MESSAGE), (error: unknown) => {
      assert.ok(error instanceof NotifierError);
      assert.match(error.message, /TLS: the server's certificate is not signed by a trusted CA \([^)]+\); add the CA to certificates_directory/);
      return true;
    });
    assert.equal(smtp.received.length, 1);
  });

  it('the gateway reads certificates_directory at startup: its SMTP startup check passes with it and fails without it', async (t) => {
    const smtp = await server(t);
    const notifier = { smtp: { address: `smtp://127.0.0.1:${smtp.port}`, sender: SENDER } };
    const gateway = await startInProcessGateway({ config: { certificates_directory: certificates.dir, access_control: { default_policy: 'one_factor' }, notifier } });
    t.after(() => gateway.close());
    assert.deepEqual(smtp.envelopeCommands, ['MAIL auth@example.com', 'RCPT test@authelia.com']);
    await assert.rejects(startInProcessGateway({ config: { access_control: { default_policy: 'one_factor' }, notifier } }), (error: unknown) => {
      assert.ok(error instanceof StartupCheckError, String(error));
      assert.match(error.message, /notifier: smtp: 127\.0\.0\.1:\d+: TLS: the server's certificate is not signed by a trusted CA/);
      return true;
    });
  });

  it('a file in it that is not a certificate stops the start, naming the file', async (t) => {
    const bad = await makeTempDir('gatehouse-cas-');
    t.after(() => bad.cleanup());
    await writeFile(join(bad.dir, 'good.pem'), serverCertificate.certPem);
    await writeFile(join(bad.dir, 'notes.crt'), 'not a certificate\n');
    await assert.rejects(startInProcessGateway({ config: { certificates_directory: bad.dir, access_control: { default_policy: 'one_factor' } } }), (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.deepEqual(error.problems, [`config: certificates_directory: '${join(bad.dir, 'notes.crt')}' is not a PEM certificate (no -----BEGIN CERTIFICATE----- block)`]);
      return true;
    });
  });
});

describe('gatehouse config validate --check reads certificates_directory', () => {
  it('a line for it, and the SMTP server checked with its CAs; a bad file named on that line', async (t) => {
    const smtp = await server(t);
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    await writeFile(join(temp.dir, 'users.yml'), 'users: {}\n', { mode: 0o600 });
    const write = async (name: string, directory: string) => {
      const path = join(temp.dir, name);
      await writeFile(path, stringify({
        certificates_directory: directory,
        authentication_backend: { file: { path: join(temp.dir, 'users.yml') } },
        access_control: { default_policy: 'one_factor' },
        session: { secret: generateSecret(), cookies: [{ domain: 'example.com', authelia_url: 'https://auth.example.com' }] },
        storage: { encryption_key: generateSecret(), local: { path: join(temp.dir, 'db.sqlite3') } },
        notifier: { smtp: { sender: SENDER, address: `smtp://127.0.0.1:${smtp.port}` } },
      }), { mode: 0o600 });
      return path;
    };
    const ok = await runGatehouse(['config', 'validate', '--config', await write('good.yml', certificates.dir), '--check'], { GATEHOUSE_DATA: join(temp.dir, 'data') });
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, new RegExp(`^certificates_directory: ok \\(1 CA certificate\\(s\\) trusted besides the system's, from ${certificates.dir}\\)$`, 'm'));
    assert.match(ok.out, /^notifier: ok \(smtp: /m);

    const bad = join(temp.dir, 'cas');
    await mkdir(bad);
    await writeFile(join(bad, 'ca.pem'), 'nothing\n');
    const failed = await runGatehouse(['config', 'validate', '--config', await write('bad.yml', bad), '--check'], { GATEHOUSE_DATA: join(temp.dir, 'data') });
    assert.equal(failed.code, 3);
    assert.ok(failed.err.includes(`certificates_directory: failed: config: certificates_directory: '${join(bad, 'ca.pem')}' is not a PEM certificate`), failed.err);
  });
});

describe('notifier.smtp.tls client certificate (certificate_chain, private_key)', () => {
  it('a server that asks for one gets no mail without it, and takes the mail with the configured one', async (t) => {
    const smtp = await server(t, { clientCa: clientCertificate });
    const address = `smtp://127.0.0.1:${smtp.port}`;
    await assert.rejects(openNotifier(smtpConfig({ address, timeout: '2s' }), { trusted })!.send(ALICE, MESSAGE), NotifierError);
    assert.equal(smtp.received.length, 0);
    const tls = { certificate_chain: clientCertificate.certPem, private_key: await readFile(clientCertificate.keyPath, 'utf8') };
    assert.deepEqual(notifierProblems(smtpConfig({ address, tls })).map(renderProblem), []);
    await openNotifier(smtpConfig({ address, tls }), { trusted })!.send(ALICE, MESSAGE);
    assert.equal(smtp.received.length, 1);
  });
});
