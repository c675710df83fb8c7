/**
 * The account's avatar: `<data_dir>/avatar.bin` (+ `avatar.type`, as ProxMenux lays it out), replaced
 * atomically, mode 0600. The type is decided by the bytes, on upload and again on every read, never
 * by what the client said.
 */
import { readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../lib/fs-atomic.ts';

export const MAX_AVATAR_BYTES = 2 * 1024 * 1024;
export const AVATAR_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;
export type AvatarType = (typeof AVATAR_TYPES)[number];

function startsWith(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  return bytes.length >= at + prefix.length && prefix.every((b, i) => bytes[at + i] === b);
}

const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

/** The image type by magic bytes, or null for anything else. */
export function sniffImageType(bytes: Uint8Array): AvatarType | null {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) return 'image/gif';
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'image/webp';
  return null;
}

export interface Avatar {
  bytes: Buffer;
  type: AvatarType;
  mtimeMs: number;
}

export interface AvatarInfo {
  type: AvatarType;
  mtimeMs: number;
}

export class AvatarFiles {
  readonly #bin: string;
  readonly #type: string;

  constructor(dataDir: string) {
    this.#bin = join(dataDir, 'avatar.bin');
    this.#type = join(dataDir, 'avatar.type');
  }

  async info(): Promise<AvatarInfo | null> {
    const avatar = await this.read();
    return avatar && { type: avatar.type, mtimeMs: avatar.mtimeMs };
  }

  /** The stored avatar, or null if there is none (or it is no longer an image we serve). */
  async read(): Promise<Avatar | null> {
    try {
      const [bytes, info] = await Promise.all([readFile(this.#bin), stat(this.#bin)]);
      const type = sniffImageType(bytes);
      return type && { bytes, type, mtimeMs: Math.floor(info.mtimeMs) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async write(bytes: Uint8Array, type: AvatarType): Promise<AvatarInfo> {
    await writeFileAtomic(this.#bin, bytes, 0o600);
    await writeFileAtomic(this.#type, `${type}\n`, 0o600);
    const info = await stat(this.#bin);
    return { type, mtimeMs: Math.floor(info.mtimeMs) };
  }

  async remove(): Promise<void> {
    for (const path of [this.#bin, this.#type]) {
      await unlink(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    }
  }
}
