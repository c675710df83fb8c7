/**
 * WebAuthn ceremonies (gateway/secondfactor/webauthn.ts) against a software authenticator and real
 * storage on both engines: options follow `webauthn.*`, a challenge ends with `timeout`, a sign counter
 * that does not move forward is refused and flags the credential.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { webauthn as webauthnSchema } from '../../../gateway/config/second-factor-schema.ts';
import { webauthnCeremonies, type Ceremony, type RelyingParty } from '../../../gateway/secondfactor/webauthn.ts';
import { openStorage } from '../../../gateway/storage/open.ts';
import type { Storage } from '../../../gateway/storage/storage.ts';
import { assert as signAssertion, register, type SoftwareCredential } from '../../helpers/software-authenticator.ts';
import { BACKENDS, silentLogger } from '../storage/backends.ts';

const RP: RelyingParty = { id: 'example.test', name: 'Gatehouse', origin: 'https://auth.example.test' };
const USER = { username: 'alice', displayName: 'Alice' };

interface PublicKeyOptions {
  challenge: string;
  rp: { id: string };
  user: { id: string };
  timeout: number;
  attestation: string;
  authenticatorSelection: Record<string, unknown>;
  excludeCredentials: { id: string }[];
  allowCredentials?: { id: string }[];
  userVerification?: string;
}

for (const backend of BACKENDS) {
  describe(`WebAuthn ceremonies (${backend.name})`, () => {
    let storage: Storage;
    let cleanup: () => Promise<void>;
    let clock = 1_800_000_000_000;
    const now = () => clock;

    before(async () => {
      const created = await backend.create();
      cleanup = created.cleanup;
      storage = await openStorage(created.options, { logger: silentLogger, migrate: true });
    });
    after(async () => {
      await storage?.close();
      await cleanup?.();
    });

    /** Registers a software credential named `name` for `username`. */
    async function enrol(settings: ReturnType<typeof webauthnSchema.parse>, username: string, name: string, userVerified = true): Promise<SoftwareCredential> {
      const ceremonies = webauthnCeremonies(settings, storage.webauthn, now);
      const started = await ceremonies.registrationOptions(RP, { username, displayName: username }, name);
      const { credential, response } = register(started.options as PublicKeyOptions, { origin: RP.origin, userVerified });
      const checked = await ceremonies.verifyRegistration(RP, started.ceremony, response);
      assert.ok(checked.ok, `registration refused: ${JSON.stringify(checked)}`);
      assert.equal(checked.credential.description, name);
      return credential;
    }

    it('registration options follow selection_criteria, attestation and timeout, and exclude keys already registered', async () => {
      const settings = webauthnSchema.parse({
        timeout: '45s',
        attestation_conveyance_preference: 'direct',
        selection_criteria: { attachment: 'platform', discoverability: 'required', user_verification: 'required' },
      });
      await enrol(webauthnSchema.parse({}), 'bob', 'first key');
      const ceremonies = webauthnCeremonies(settings, storage.webauthn, now);
      const started = await ceremonies.registrationOptions(RP, { username: 'bob', displayName: 'Bob' }, 'second key');
      const options = started.options as PublicKeyOptions;
      assert.deepEqual(options.authenticatorSelection, { authenticatorAttachment: 'platform', residentKey: 'required', requireResidentKey: true, userVerification: 'required' });
      assert.equal(options.attestation, 'direct');
      assert.equal(options.timeout, 45_000);
      assert.equal(options.rp.id, 'example.test');
      assert.equal(options.excludeCredentials.length, 1, 'the key bob already has is excluded');
      assert.equal(Buffer.from(options.user.id, 'base64url').length, 64, 'the random user handle, not the username');
      assert.equal(started.ceremony.expiresAt, clock + 45_000);

      const assertion = await ceremonies.assertionOptions(RP, 'bob');
      assert.equal((assertion!.options as PublicKeyOptions).userVerification, 'required');
      assert.equal((assertion!.options as PublicKeyOptions).allowCredentials!.length, 1);
      assert.equal(await ceremonies.assertionOptions(RP, 'nobody'), null, 'no options for a user without keys');
    });

    it('the legacy webauthn.user_verification applies when selection_criteria leaves it at its default', async () => {
      const ceremonies = webauthnCeremonies(webauthnSchema.parse({ user_verification: 'discouraged' }), storage.webauthn, now);
      const started = await ceremonies.passkeyOptions(RP);
      assert.equal((started.options as PublicKeyOptions).userVerification, 'discouraged');
      assert.equal((started.options as PublicKeyOptions).allowCredentials, undefined, 'a passkey sign-in names no credential');
    });

    it('a signed assertion signs in and moves the stored counter; a counter that does not move forward is refused and flags the key', async () => {
      const settings = webauthnSchema.parse({});
      const key = await enrol(settings, USER.username, 'yubikey');
      const ceremonies = webauthnCeremonies(settings, storage.webauthn, now);
      const first = await ceremonies.assertionOptions(RP, USER.username);
      const good = await ceremonies.verifyAssertion(RP, first!.ceremony, signAssertion(key, first!.options as PublicKeyOptions, { origin: RP.origin }), USER.username);
      assert.ok(good.ok);
      assert.equal(good.userVerified, true);
      let stored = (await storage.webauthn.list(USER.username))[0]!;
      assert.equal(stored.signCount, 1);
      assert.equal(stored.lastUsedAt, clock);

      // a copy of the key that signs with a counter the server has already seen
      const second = await ceremonies.assertionOptions(RP, USER.username);
      const cloned = await ceremonies.verifyAssertion(RP, second!.ceremony, signAssertion(key, second!.options as PublicKeyOptions, { origin: RP.origin, counter: 1 }), USER.username);
      assert.deepEqual(cloned.ok ? 'accepted' : cloned.reason, 'counter_regression');
      stored = (await storage.webauthn.list(USER.username))[0]!;
      assert.equal(stored.cloneWarning, true, 'the credential is flagged');
      assert.equal(stored.signCount, 1, 'the stored counter is kept');

      // flagged: even a correct next counter is refused until the user replaces the key
      const third = await ceremonies.assertionOptions(RP, USER.username);
      const after = await ceremonies.verifyAssertion(RP, third!.ceremony, signAssertion(key, third!.options as PublicKeyOptions, { origin: RP.origin }), USER.username);
      assert.deepEqual(after.ok ? 'accepted' : after.reason, 'clone_warning');
    });

    it('an assertion with an unsigned counter regression (bad signature) does not flag the key', async () => {
      const settings = webauthnSchema.parse({});
      const key = await enrol(settings, 'carol', 'key');
      const ceremonies = webauthnCeremonies(settings, storage.webauthn, now);
      const started = await ceremonies.assertionOptions(RP, 'carol');
      const forged = signAssertion(key, started!.options as PublicKeyOptions, { origin: RP.origin, counter: 0 }) as { response: { signature: string } };
      forged.response.signature = Buffer.from('not a signature').toString('base64url');
      const checked = await ceremonies.verifyAssertion(RP, started!.ceremony, forged, 'carol');
      assert.deepEqual(checked.ok ? 'accepted' : checked.reason, 'malformed');
      assert.equal((await storage.webauthn.list('carol'))[0]!.cloneWarning, false);
    });

    it('a challenge ends with webauthn.timeout (injected clock), and one from another kind of ceremony or relying party is refused', async () => {
      const settings = webauthnSchema.parse({ timeout: '30s' });
      const key = await enrol(settings, 'dave', 'key');
      const ceremonies = webauthnCeremonies(settings, storage.webauthn, now);
      const started = await ceremonies.assertionOptions(RP, 'dave');
      const response = signAssertion(key, started!.options as PublicKeyOptions, { origin: RP.origin, counter: 5 });
      clock += 30_000;
      const late = await ceremonies.verifyAssertion(RP, started!.ceremony, response, 'dave');
      assert.deepEqual(late.ok ? 'accepted' : late.reason, 'expired');
      clock -= 1;
      const passkeyKind: Ceremony = { ...started!.ceremony, kind: 'passkey' };
      const wrongKind = await ceremonies.verifyAssertion(RP, passkeyKind, response, 'dave');
      assert.deepEqual(wrongKind.ok ? 'accepted' : wrongKind.reason, 'no_ceremony');
      const otherRp = await ceremonies.verifyAssertion({ ...RP, id: 'other.test' }, started!.ceremony, response, 'dave');
      assert.deepEqual(otherRp.ok ? 'accepted' : otherRp.reason, 'no_ceremony');
      const missing = await ceremonies.verifyAssertion(RP, undefined, response, 'dave');
      assert.deepEqual(missing.ok ? 'accepted' : missing.reason, 'no_ceremony');
      const inTime = await ceremonies.verifyAssertion(RP, started!.ceremony, response, 'dave');
      assert.ok(inTime.ok, 'one millisecond before the end it is accepted');
      clock += 1;
    });

    it("another user's key is refused as a second factor; a passkey names its user by the handle", async () => {
      const settings = webauthnSchema.parse({});
      const erin = await enrol(settings, 'erin', 'key');
      await enrol(settings, 'frank', 'key');
      const ceremonies = webauthnCeremonies(settings, storage.webauthn, now);
      const forFrank = await ceremonies.assertionOptions(RP, 'frank');
      const wrong = await ceremonies.verifyAssertion(RP, forFrank!.ceremony, signAssertion(erin, forFrank!.options as PublicKeyOptions, { origin: RP.origin }), 'frank');
      assert.deepEqual(wrong.ok ? 'accepted' : wrong.reason, 'wrong_user');

      const passkey = await ceremonies.passkeyOptions(RP);
      const signedIn = await ceremonies.verifyAssertion(RP, passkey.ceremony, signAssertion(erin, passkey.options as PublicKeyOptions, { origin: RP.origin, userVerified: false }), null);
      assert.ok(signedIn.ok);
      assert.equal(signedIn.credential.username, 'erin');
      assert.equal(signedIn.userVerified, false);

      const again = await ceremonies.passkeyOptions(RP);
      const noHandle = { ...erin, userHandle: null };
      const anonymous = await ceremonies.verifyAssertion(RP, again.ceremony, signAssertion(noHandle, again.options as PublicKeyOptions, { origin: RP.origin }), null);
      assert.deepEqual(anonymous.ok ? 'accepted' : anonymous.reason, 'wrong_user');
    });

    it('rename and delete touch only the owner’s credential', async () => {
      const settings = webauthnSchema.parse({});
      await enrol(settings, 'gina', 'old name');
      await enrol(settings, 'hugo', 'hugo key');
      const [gina] = await storage.webauthn.list('gina');
      assert.equal(await storage.webauthn.rename('hugo', gina!.id, 'stolen'), false);
      assert.equal(await storage.webauthn.rename('gina', gina!.id, 'new name'), true);
      assert.equal((await storage.webauthn.list('gina'))[0]!.description, 'new name');
      assert.equal(await storage.webauthn.delete('hugo', gina!.id), false);
      assert.equal(await storage.webauthn.delete('gina', gina!.id), true);
      assert.deepEqual(await storage.webauthn.list('gina'), []);
      assert.equal((await storage.webauthn.list('hugo')).length, 1);
    });
  });
}
