/**
 * Is an uploaded avatar really a PNG, JPEG, GIF or WebP? The magic number names the type; the
 * structure that type must have (PNG's IHDR and IEND, JPEG's SOI, frame header and EOI, GIF's screen
 * and trailer, WebP's RIFF size and VP8 chunk) decides whether it is an image at all, so a text file
 * renamed .png, a truncated download or a polyglot with a script after a PNG signature is refused.
 * SVG is never accepted: it is a document that can carry scripts.
 */
import { crc32 } from 'node:zlib';
import { sniffImageType, type AvatarType } from './avatar.ts';

/** Larger than any avatar needs; a bound on what a browser is asked to decode. */
export const MAX_AVATAR_SIDE = 4096;

export type ImageCheck =
  | { ok: true; type: AvatarType; width: number; height: number }
  /** unsupported: not one of the four types at all (415); broken: the type's structure is wrong (400). */
  | { ok: false; problem: 'unsupported' | 'broken'; message: string };

const ACCEPTED = 'Only PNG, JPEG, WebP or GIF images are accepted';

const tag = (bytes: Uint8Array, at: number, length = 4) => Buffer.from(bytes.subarray(at, at + length)).toString('latin1');
const u16be = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const u16le = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);
const u24le = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
const u32be = (b: Uint8Array, at: number) => ((b[at]! << 24) >>> 0) + (b[at + 1]! << 16) + (b[at + 2]! << 8) + b[at + 3]!;
const u32le = (b: Uint8Array, at: number) => b[at]! + (b[at + 1]! << 8) + (b[at + 2]! << 16) + ((b[at + 3]! << 24) >>> 0);

type Size = { width: number; height: number } | string;

/** Chunks from the signature to IEND, each inside the file; IHDR first with a good CRC; nothing after IEND. */
function pngSize(b: Uint8Array): Size {
  if (b.length < 8 + 25 + 12) return 'the PNG is truncated';
  if (u32be(b, 8) !== 13 || tag(b, 12) !== 'IHDR') return 'the PNG has no IHDR header';
  if (crc32(b.subarray(12, 29)) !== u32be(b, 29)) return 'the PNG header is damaged';
  let at = 8;
  let sawData = false;
  while (at + 12 <= b.length) {
    const length = u32be(b, at);
    const type = tag(b, at + 4);
    const end = at + 12 + length;
    if (end > b.length) return 'the PNG is truncated';
    if (type === 'IDAT') sawData = true;
    if (type === 'IEND') {
      if (end !== b.length) return 'the PNG has data after its end';
      if (!sawData) return 'the PNG has no image data';
      return { width: u32be(b, 16), height: u32be(b, 20) };
    }
    at = end;
  }
  return 'the PNG is truncated';
}

/** Segments from SOI to the first SOS must be well formed and include a frame header; the file ends with EOI. */
function jpegSize(b: Uint8Array): Size {
  let last = b.length;
  while (last > 2 && b[last - 1] === 0x00) last -= 1; // some cameras pad after EOI
  if (last < 4 || b[last - 2] !== 0xff || b[last - 1] !== 0xd9) return 'the JPEG is truncated (no end marker)';
  let at = 2;
  let size: Size = 'the JPEG has no frame header';
  while (at + 4 <= last) {
    if (b[at] !== 0xff) return 'the JPEG structure is damaged';
    const marker = b[at + 1]!;
    if (marker === 0xff) { at += 1; continue; } // fill byte
    if (marker === 0xda) return size; // start of scan: entropy-coded data follows, up to EOI
    if (marker === 0xd8 || marker === 0xd9) return 'the JPEG structure is damaged';
    const length = u16be(b, at + 2);
    if (length < 2 || at + 2 + length > last) return 'the JPEG is truncated';
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (length < 8) return 'the JPEG frame header is damaged';
      size = { width: u16be(b, at + 7), height: u16be(b, at + 5) };
    }
    at += 2 + length;
  }
  return 'the JPEG is truncated';
}

/** A logical screen, at least one image descriptor, and the trailer byte at the end. */
function gifSize(b: Uint8Array): Size {
  if (b.length < 14) return 'the GIF is truncated';
  if (b[b.length - 1] !== 0x3b) return 'the GIF is truncated (no trailer)';
  if (!b.subarray(13).includes(0x2c)) return 'the GIF has no image';
  return { width: u16le(b, 6), height: u16le(b, 8) };
}

/** The RIFF size matches the file, and the first chunk is VP8, VP8L or VP8X with its dimensions. */
function webpSize(b: Uint8Array): Size {
  if (b.length < 30) return 'the WebP is truncated';
  const riff = u32le(b, 4) + 8;
  if (riff !== b.length && riff + 1 !== b.length) return riff > b.length ? 'the WebP is truncated' : 'the WebP has data after its end';
  const chunk = tag(b, 12);
  if (chunk === 'VP8X') return { width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 };
  if (chunk === 'VP8L') {
    if (b[20] !== 0x2f) return 'the WebP (lossless) header is damaged';
    const bits = u32le(b, 21);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8 ') {
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return 'the WebP (lossy) header is damaged';
    return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
  }
  return 'the WebP has no image chunk';
}

const SIZE_OF: Record<AvatarType, (bytes: Uint8Array) => Size> = {
  'image/png': pngSize,
  'image/jpeg': jpegSize,
  'image/gif': gifSize,
  'image/webp': webpSize,
};

export function checkImage(bytes: Uint8Array): ImageCheck {
  const type = sniffImageType(bytes);
  if (type === null) {
    const head = Buffer.from(bytes.subarray(0, 1024)).toString('utf8').toLowerCase();
    const svg = head.includes('<svg');
    return { ok: false, problem: 'unsupported', message: svg ? `SVG images are not accepted (they can carry scripts). ${ACCEPTED}` : `This file is not an image we accept. ${ACCEPTED}` };
  }
  const size = SIZE_OF[type](bytes);
  if (typeof size === 'string') return { ok: false, problem: 'broken', message: `This is not a valid image: ${size}. Try saving it again or choose another file.` };
  if (size.width < 1 || size.height < 1) return { ok: false, problem: 'broken', message: 'This is not a valid image: it has no width or height.' };
  if (size.width > MAX_AVATAR_SIDE || size.height > MAX_AVATAR_SIDE) {
    return { ok: false, problem: 'broken', message: `The image is ${size.width}×${size.height} pixels; the most an avatar may be is ${MAX_AVATAR_SIDE}×${MAX_AVATAR_SIDE}.` };
  }
  return { ok: true, type, ...size };
}
