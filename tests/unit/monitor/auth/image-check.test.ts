/**
 * An avatar is accepted only if its bytes are a PNG, JPEG, GIF or WebP with that format's structure:
 * the magic number alone (a renamed text file, a truncated download, a script after a PNG signature)
 * is not enough, and SVG is never an avatar.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkImage, MAX_AVATAR_SIDE } from '../../../../monitor/auth/image-check.ts';
import { SAMPLE_GIF, SAMPLE_JPEG, SAMPLE_WEBP, samplePng } from '../../../helpers/images.ts';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('real images are accepted with their type and size', () => {
  for (const [name, bytes, type, side] of [
    ['PNG', samplePng(), 'image/png', 16],
    ['JPEG', SAMPLE_JPEG, 'image/jpeg', 16],
    ['GIF', SAMPLE_GIF, 'image/gif', 1],
    ['WebP', SAMPLE_WEBP, 'image/webp', 1],
  ] as const) {
    it(name, () => assert.deepEqual(checkImage(bytes), { ok: true, type, width: side, height: side }));
  }
});

describe('anything else is refused with a message for people', () => {
  it('a text file renamed .png is not one of the accepted types', () => {
    const check = checkImage(Buffer.from('just some notes\n'));
    assert.deepEqual(check, { ok: false, problem: 'unsupported', message: 'This file is not an image we accept. Only PNG, JPEG, WebP or GIF images are accepted' });
  });

  it('SVG is refused and the message says why (scripts)', () => {
    for (const svg of ['<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', '<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg><script>alert(1)</script></svg>']) {
      const check = checkImage(Buffer.from(svg));
      assert.equal(check.ok, false);
      assert.equal(!check.ok && check.problem, 'unsupported');
      assert.match(!check.ok ? check.message : '', /^SVG images are not accepted \(they can carry scripts\)/);
    }
  });

  it('every truncated image is broken, whatever its type', () => {
    for (const bytes of [samplePng(), SAMPLE_JPEG, SAMPLE_GIF, SAMPLE_WEBP]) {
      for (const cut of [1, 12, Math.floor(bytes.length / 2)]) {
        const check = checkImage(bytes.subarray(0, bytes.length - cut));
        assert.equal(check.ok, false, `${bytes.length} bytes cut by ${cut}`);
        assert.equal(!check.ok && check.problem, 'broken');
        assert.match(!check.ok ? check.message : '', /^This is not a valid image: the (PNG|JPEG|GIF|WebP) /);
      }
    }
  });

  it('a PNG signature followed by anything but IHDR, or by a damaged IHDR, is broken', () => {
    assert.equal(checkImage(Buffer.concat([PNG_SIGNATURE, Buffer.from('<script>alert(1)</script>'.repeat(4))])).ok, false);
    const damaged = samplePng();
    damaged.writeUInt8(damaged[20]! ^ 0xff, 20); // the height, so the header CRC no longer matches
    assert.deepEqual(checkImage(damaged), { ok: false, problem: 'broken', message: 'This is not a valid image: the PNG header is damaged. Try saving it again or choose another file.' });
  });

  it('data after the end of a PNG or WebP is refused (a polyglot hides there)', () => {
    assert.equal(checkImage(Buffer.concat([samplePng(), Buffer.from('<html><script>x</script>')])).ok, false);
    assert.equal(checkImage(Buffer.concat([SAMPLE_WEBP, Buffer.from('<html><script>x</script>')])).ok, false);
  });

  it(`an image larger than ${MAX_AVATAR_SIDE} pixels on a side is refused`, () => {
    const huge = Buffer.from(SAMPLE_GIF);
    huge.writeUInt16LE(MAX_AVATAR_SIDE + 1, 6);
    assert.deepEqual(checkImage(huge), { ok: false, problem: 'broken', message: `The image is ${MAX_AVATAR_SIDE + 1}×1 pixels; the most an avatar may be is ${MAX_AVATAR_SIDE}×${MAX_AVATAR_SIDE}.` });
  });
});
