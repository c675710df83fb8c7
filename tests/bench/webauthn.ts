/**
 * `npm run bench:webauthn`: WebAuthn assertion verifications per second, against a baseline measured in
 * the same run: a bare ECDSA P-256/SHA-256 signature check with node:crypto (the one public-key
 * operation an assertion needs). Assertions come from a software authenticator (node:crypto ES256),
 * generated before the clock starts. Three figures, each the median of the rounds:
 * - baseline: crypto.verify of a signature over authenticatorData || SHA-256(clientDataJSON);
 * - library: @simplewebauthn/server's verifyAuthenticationResponse (parsing, checks, COSE key, signature);
 * - ceremony: Gatehouse's second-factor check (gateway/secondfactor/webauthn.ts) with SQLite storage:
 *   the credential looked up, verified, its counter compared and stored.
 * CPU only, loopback nothing; a fixed duration per run.
 */
import { createHash, createPublicKey, sign, verify } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { verifyAuthenticationResponse } from '@simplewebauthn/server';
import { webauthn as webauthnSchema } from '../../gateway/config/second-factor-schema.ts';
import { webauthnCeremonies, type Ceremony, type RelyingParty } from '../../gateway/secondfactor/webauthn.ts';
import { openStorage } from '../../gateway/storage/open.ts';
import { assert as signAssertion, newCredential } from '../helpers/software-authenticator.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const HELP = `Usage: npm run bench:webauthn -- [--duration S] [--rounds N]

WebAuthn assertion verifications per second (library and Gatehouse's ceremony with SQLite) against a
bare ECDSA P-256 verify measured in the same run; medians of the rounds.
  --duration S   seconds per measured run (default 2)
  --rounds N     rounds of the three measurements (default 3)
`;

const { values } = parseArgs({ options: { duration: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' }, help: { type: 'boolean', default: false } } });
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const durationMs = Number(values.duration) * 1000;
const rounds = Number(values.rounds);

const RP: RelyingParty = { id: 'example.test', name: 'Gatehouse', origin: 'https://auth.example.test' };
const POOL = 4096;

/** Calls `step(i)` back to back for `durationMs`; operations per second. */
async function measure(step: (i: number) => unknown | Promise<unknown>): Promise<number> {
  const started = performance.now();
  let done = 0;
  while (performance.now() - started < durationMs) {
    for (let k = 0; k < 64; k++) await step(done++);
  }
  return (done * 1000) / (performance.now() - started);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const temp = await makeTempDir('gatehouse-bench-webauthn-');
const storage = await openStorage({ encryption_key: 'a-bench-encryption-key-long-enough', local: { path: join(temp.dir, 'db.sqlite3') } }, { logger: pino({ level: 'silent' }), migrate: true });
try {
  const key = newCredential(await storage.webauthn.userHandle('alice'));
  const kid = key.id.toString('base64url');
  await storage.webauthn.add({
    username: 'alice', description: 'bench key', kid, aaguid: null, attestationType: 'none', attachment: 'cross-platform', transports: ['usb'],
    signCount: 0, discoverable: false, present: true, verified: true, backupEligible: false, backupState: false, publicKey: key.cosePublicKey, createdAt: Date.now(),
  });
  const publicKeyObject = createPublicKey(key.privateKey);

  // baseline: signatures over authenticatorData || SHA-256(clientDataJSON), as an assertion's
  const signed = Array.from({ length: POOL }, (_, i) => {
    const data = Buffer.concat([createHash('sha256').update(RP.id).digest(), Buffer.from([5, 0, 0, 0, i & 0xff]), createHash('sha256').update(`client data ${i}`).digest()]);
    return { data, signature: sign('sha256', data, key.privateKey) };
  });

  // assertions with counters that keep increasing across every round (the ceremony stores each one)
  const settings = webauthnSchema.parse({});
  const ceremonies = webauthnCeremonies(settings, storage.webauthn, Date.now);
  const challenge = Buffer.from('bench challenge, the same for each').toString('base64url');
  const ceremony: Ceremony = { kind: 'second_factor', challenge, expiresAt: Number.MAX_SAFE_INTEGER, rpId: RP.id, username: 'alice' };
  const perRound = 400_000; // more than a round can verify
  let counter = 0;
  const assertionsFor = (n: number) => Array.from({ length: n }, () => signAssertion(key, { challenge, rpId: RP.id }, { origin: RP.origin, counter: ++counter }));
  const libraryPool = assertionsFor(POOL);

  const results = { baseline: [] as number[], library: [] as number[], ceremony: [] as number[] };
  // warm-up of each, then rounds
  for (let round = 0; round <= rounds; round++) {
    const baseline = await measure((i) => {
      const s = signed[i % POOL]!;
      if (!verify('sha256', s.data, publicKeyObject, s.signature)) throw new Error('baseline signature refused');
    });
    const library = await measure(async (i) => {
      const response = libraryPool[i % POOL]! as unknown as Parameters<typeof verifyAuthenticationResponse>[0]['response'];
      const out = await verifyAuthenticationResponse({ response, expectedChallenge: challenge, expectedOrigin: RP.origin, expectedRPID: RP.id, credential: { id: kid, publicKey: new Uint8Array(key.cosePublicKey), counter: 0 } });
      if (!out.verified) throw new Error('library refused an assertion');
    });
    // generated outside the timed loop: the ceremony needs counters above the stored one, in order
    const pool = assertionsFor(Math.min(perRound, Math.ceil((library * durationMs) / 1000) + 1000));
    const ceremony_ = await measure(async (i) => {
      const response = pool[i];
      if (!response) throw new Error('bench: the assertion pool ran out; raise perRound');
      const out = await ceremonies.verifyAssertion(RP, ceremony, response, 'alice');
      if (!out.ok) throw new Error(`ceremony refused an assertion: ${out.reason}`);
    });
    if (round === 0) continue;
    results.baseline.push(baseline);
    results.library.push(library);
    results.ceremony.push(ceremony_);
    process.stdout.write(`round ${round}: baseline ${baseline.toFixed(0)}/s, library ${library.toFixed(0)}/s, ceremony ${ceremony_.toFixed(0)}/s\n`);
  }
  const base = median(results.baseline);
  const lib = median(results.library);
  const full = median(results.ceremony);
  process.stdout.write(
    [
      '',
      `WebAuthn assertion verification (median of ${rounds} rounds of ${durationMs / 1000} s, Node ${process.version}):`,
      `  baseline  ECDSA P-256 verify (node:crypto)           ${base.toFixed(0).padStart(8)} /s`,
      `  library   @simplewebauthn/server verify              ${lib.toFixed(0).padStart(8)} /s   ratio ${(lib / base).toFixed(2)}`,
      `  ceremony  Gatehouse second factor, SQLite, counter   ${full.toFixed(0).padStart(8)} /s   ratio ${(full / base).toFixed(2)}`,
      '',
    ].join('\n'),
  );
} finally {
  await storage.close();
  await temp.cleanup();
}
