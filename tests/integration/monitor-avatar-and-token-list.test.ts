/**
 * Two things a person notices on the monitor's profile and security pages: an avatar is refused
 * unless its bytes are really a PNG/JPEG/GIF/WebP (with a message saying why), and API tokens in the
 * list are told apart by their last 4 characters, never their whole value.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SAMPLE_GIF, SAMPLE_JPEG, SAMPLE_WEBP, samplePng } from '../helpers/images.ts';
import { makeApiToken, startSignedIn, type AuthServer } from './monitor-auth-harness.ts';

const PNG = samplePng();

describe('an avatar that is not a valid image is refused', () => {
  let server: AuthServer;
  let session: string;
  before(async () => ({ server, session } = await startSignedIn()));
  after(() => server.close());

  const post = (body: Buffer | string, type = 'image/png') =>
    server.send('/api/auth/profile/avatar', { method: 'POST', token: session, body, headers: { 'content-type': type } });

  it('accepts a real PNG, JPEG, GIF and WebP, typed by their bytes', async () => {
    for (const [bytes, type] of [[SAMPLE_JPEG, 'image/jpeg'], [SAMPLE_GIF, 'image/gif'], [SAMPLE_WEBP, 'image/webp'], [PNG, 'image/png']] as const) {
      const reply = await post(bytes);
      assert.equal(reply.status, 200, reply.body);
      assert.equal(reply.json.avatar_content_type, type);
    }
  });

  it('refuses a text file renamed .png, a truncated PNG, a bare PNG signature and an SVG, with a message for people, and keeps the avatar', async () => {
    const before = await readFile(join(server.config.data_dir, 'avatar.bin'));
    const renamedText = await post('Shopping list: milk, eggs\n');
    assert.equal(renamedText.status, 415);
    assert.deepEqual({ ...renamedText.json }, { success: false, message: 'This file is not an image we accept. Only PNG, JPEG, WebP or GIF images are accepted' });
    const truncated = await post(PNG.subarray(0, PNG.length - 20));
    assert.equal(truncated.status, 400);
    assert.deepEqual({ ...truncated.json }, { success: false, message: 'This is not a valid image: the PNG is truncated. Try saving it again or choose another file.' });
    const signatureOnly = await post(Buffer.concat([PNG.subarray(0, 8), Buffer.from('<script>alert(1)</script>')]));
    assert.equal(signatureOnly.status, 400);
    const svg = await post('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 'image/svg+xml');
    assert.equal(svg.status, 415);
    assert.match(svg.json.message, /^SVG images are not accepted \(they can carry scripts\)/);
    assert.deepEqual(await readFile(join(server.config.data_dir, 'avatar.bin')), before, 'a refused upload leaves the avatar as it was');
  });
});

describe('API tokens in the list are told apart by name and last characters', () => {
  let server: AuthServer;
  let session: string;
  before(async () => ({ server, session } = await startSignedIn()));
  after(() => server.close());

  it('two tokens of one name: each listed with its own last 4 characters (stored at creation), never the whole token', async () => {
    const first = await makeApiToken(server, session, 'read_only', { token_name: 'ci' });
    const second = await makeApiToken(server, session, 'read_only', { token_name: 'ci' });
    const reply = await server.send('/api/auth/api-tokens', { token: session });
    const named = reply.json.tokens.filter((t: { name: string }) => t.name === 'ci').map((t: { token_last4: string }) => t.token_last4);
    assert.deepEqual(named.sort(), [first.slice(-4), second.slice(-4)].sort());
    assert.ok(!reply.body.includes(first) && !reply.body.includes(second));
    const file = JSON.parse(await readFile(join(server.config.data_dir, 'auth.json'), 'utf8'));
    const stored = file.api_tokens.filter((t: { name: string }) => t.name === 'ci');
    assert.deepEqual(stored.map((t: { token_last4: string }) => t.token_last4).sort(), named.sort());
    assert.ok(!JSON.stringify(file).includes(first), 'auth.json never holds the token itself');
  });

  it('a token listed before the last characters were stored shows null, and still works', async () => {
    const older = await makeApiToken(server, session, 'read_only', { token_name: 'older' });
    await server.deps.store.update((draft) => {
      for (const t of draft.api_tokens) if (t.name === 'older') delete t.token_last4;
    });
    const reply = await server.send('/api/auth/api-tokens', { token: session });
    const listed = reply.json.tokens.find((t: { name: string }) => t.name === 'older');
    assert.equal(listed.token_last4, null);
    assert.equal(listed.valid, true);
    assert.equal((await server.send('/api/system', { token: older })).status, 200);
  });
});
