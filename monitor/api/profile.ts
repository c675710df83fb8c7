/** The profile API (display name, avatar) in ProxMenux's paths and shapes: reading needs a sign-in, changing full_admin. */
import express from 'express';
import { AvatarFiles, MAX_AVATAR_BYTES, sniffImageType } from '../auth/avatar.ts';
import type { MonitorAuthDeps } from '../auth/deps.ts';
import { requireAuth } from '../auth/identity.ts';
import { bodyOf, displayNameRule, fail, safe } from './json-api.ts';
import type { RouteGuards } from './auth-routes.ts';

export function addProfileRoutes(r: express.Router, deps: MonitorAuthDeps, { admin, json }: RouteGuards): void {
  const { store, config } = deps;
  const avatars = new AvatarFiles(config.data_dir);
  r.get('/api/auth/profile', requireAuth, safe(async (req, res) => {
    const [state, avatar] = await Promise.all([store.read(), avatars.info()]);
    res.json({
      success: true,
      username: req.identity!.username,
      display_name: state.display_name,
      has_avatar: avatar !== null,
      avatar_mtime: avatar?.mtimeMs ?? null,
      avatar_content_type: avatar?.type ?? null,
    });
  }));

  r.put('/api/auth/profile', admin, json, safe(async (req, res) => {
    const value = bodyOf(req).display_name;
    if (value === undefined) return fail(res, 400, 'display_name is required');
    const parsed = displayNameRule.safeParse(value);
    if (!parsed.success) return fail(res, 400, 'display_name must be text of at most 64 characters without control characters');
    const displayName = parsed.data.trim() === '' ? null : parsed.data.trim();
    await store.update((draft) => {
      draft.display_name = displayName;
    });
    res.json({ success: true, display_name: displayName, message: 'Profile updated' });
  }));

  r.get('/api/auth/profile/avatar', requireAuth, safe(async (_req, res) => {
    const avatar = await avatars.read();
    if (!avatar) return fail(res, 404, 'No avatar set');
    res.set({ 'Content-Type': avatar.type, 'Cache-Control': 'private, max-age=60', 'X-Content-Type-Options': 'nosniff' });
    res.send(avatar.bytes);
  }));

  // raw image body only: multipart is a type a cross-site form may send without a preflight
  const rawImage = express.raw({ type: 'image/*', limit: MAX_AVATAR_BYTES });
  r.post('/api/auth/profile/avatar', admin, (req, res, next) => {
    if (req.is('image/*')) return next();
    fail(res, 415, 'Send the image as the request body with Content-Type image/png, image/jpeg, image/webp or image/gif');
  }, rawImage, safe(async (req, res) => {
    const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (bytes.length === 0) return fail(res, 400, 'The image is empty');
    const type = sniffImageType(bytes);
    if (type === null) return fail(res, 415, 'Only PNG, JPEG, WebP or GIF images are accepted');
    const info = await avatars.write(bytes, type);
    res.json({ success: true, message: 'Avatar updated', avatar_mtime: info.mtimeMs, avatar_content_type: info.type });
  }));

  r.delete('/api/auth/profile/avatar', admin, json, safe(async (_req, res) => {
    await avatars.remove();
    res.json({ success: true, message: 'Avatar removed' });
  }));
}
