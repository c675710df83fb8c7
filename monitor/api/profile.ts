/** The profile API (display name, avatar) in ProxMenux's paths and shapes: reading needs a sign-in (READ), changing full_admin (ADMIN). */
import express, { type RequestHandler } from 'express';
import { AvatarFiles, MAX_AVATAR_BYTES } from '../auth/avatar.ts';
import { checkImage } from '../auth/image-check.ts';
import type { MonitorAuthDeps } from '../auth/deps.ts';
import { bodyOf, displayNameRule, fail } from './json-api.ts';

export const AVATAR_PATH = '/api/auth/profile/avatar';

/**
 * What the avatar upload parses its body with: a raw image only. Multipart is a type a cross-site
 * form may send without a preflight.
 */
export const imageBody: readonly RequestHandler[] = [
  (req, res, next) => {
    if (req.is('image/*')) return next();
    fail(res, 415, 'Send the image as the request body with Content-Type image/png, image/jpeg, image/webp or image/gif');
  },
  express.raw({ type: 'image/*', limit: MAX_AVATAR_BYTES }),
];

export interface ProfileHandlers {
  read: RequestHandler;
  update: RequestHandler;
  avatar: RequestHandler;
  /** Takes the image as the raw request body (the table's `image` body). */
  setAvatar: RequestHandler;
  removeAvatar: RequestHandler;
}

export function createProfileHandlers(deps: Pick<MonitorAuthDeps, 'store' | 'config'>): ProfileHandlers {
  const { store, config } = deps;
  const avatars = new AvatarFiles(config.data_dir);

  const read: RequestHandler = async (req, res) => {
    const [state, avatar] = await Promise.all([store.read(), avatars.info()]);
    res.json({
      success: true,
      username: req.identity!.username,
      display_name: state.display_name,
      has_avatar: avatar !== null,
      avatar_mtime: avatar?.mtimeMs ?? null,
      avatar_content_type: avatar?.type ?? null,
    });
  };

  const update: RequestHandler = async (req, res) => {
    const value = bodyOf(req).display_name;
    if (value === undefined) return fail(res, 400, 'display_name is required');
    const parsed = displayNameRule.safeParse(value);
    if (!parsed.success) return fail(res, 400, 'display_name must be text of at most 64 characters without control characters');
    const displayName = parsed.data.trim() === '' ? null : parsed.data.trim();
    await store.update((draft) => {
      draft.display_name = displayName;
    });
    res.json({ success: true, display_name: displayName, message: 'Profile updated' });
  };

  const avatar: RequestHandler = async (_req, res) => {
    const found = await avatars.read();
    if (!found) return fail(res, 404, 'No avatar set');
    res.set({ 'Content-Type': found.type, 'Cache-Control': 'private, max-age=60', 'X-Content-Type-Options': 'nosniff' });
    res.send(found.bytes);
  };

  const setAvatar: RequestHandler = async (req, res) => {
    const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (bytes.length === 0) return fail(res, 400, 'The image is empty');
    // not one of the four types (text, SVG, HTML): 415; the right magic but no such image inside: 400
    const image = checkImage(bytes);
    if (!image.ok) return fail(res, image.problem === 'unsupported' ? 415 : 400, image.message);
    const info = await avatars.write(bytes, image.type);
    res.json({ success: true, message: 'Avatar updated', avatar_mtime: info.mtimeMs, avatar_content_type: info.type });
  };

  const removeAvatar: RequestHandler = async (_req, res) => {
    await avatars.remove();
    res.json({ success: true, message: 'Avatar removed' });
  };

  return { read, update, avatar, setAvatar, removeAvatar };
}
