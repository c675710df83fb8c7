/**
 * The user's picture. It is fetched with the Bearer token (an <img src> could not send it) and
 * drawn on a canvas, so the page needs neither blob: nor data: in its img-src policy.
 */
import { fetchBlob } from './api.js';
import { element } from './dom.js';

export const AVATAR_PATH = '/api/auth/profile/avatar';

/** The decoded picture, or null when none is set (or it cannot be decoded). */
export async function loadAvatar() {
  const blob = await fetchBlob(AVATAR_PATH);
  if (blob === null) return null;
  try {
    return await createImageBitmap(blob);
  } catch {
    return null;
  }
}

/** Draws `bitmap` into `holder` (a square .avatar box), cropped to fill; the name's initial without one. */
export function paintAvatar(holder, bitmap, name) {
  if (bitmap === null) {
    holder.replaceChildren(document.createTextNode((name ?? '?').trim().charAt(0).toUpperCase() || '?'));
    holder.classList.remove('has-picture');
    return;
  }
  const size = Math.max(holder.clientWidth, 32);
  const scale = window.devicePixelRatio || 1;
  const canvas = element('canvas', { width: Math.round(size * scale), height: Math.round(size * scale) });
  const side = Math.min(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d');
  context.imageSmoothingQuality = 'high';
  context.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, canvas.width, canvas.height);
  holder.replaceChildren(canvas);
  holder.classList.add('has-picture');
}
