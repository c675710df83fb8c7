/** The Profile tab: display name (GET/PUT /api/auth/profile) and picture (raw image body upload). */
import { api } from './api.js';
import { AVATAR_PATH, loadAvatar, paintAvatar } from './avatar.js';
import { byId, showMessage, whileBusy } from './dom.js';

const MAX_AVATAR_BYTES = 2 * 1024 * 1024;
const AVATAR_TYPES = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/gif']);

/** `onIdentity({ username, displayName, avatar })` updates the header. */
export function createProfile({ onIdentity }) {
  const form = byId('profile-form');
  const nameInput = byId('profile-display-name');
  const avatarForm = byId('avatar-form');
  const fileInput = byId('avatar-file');
  const removeButton = byId('avatar-remove');
  let profile = null;
  let avatar = null;

  function publish() {
    if (profile === null) return;
    onIdentity({ username: profile.username ?? '', displayName: profile.display_name ?? '', avatar });
    paintAvatar(byId('profile-avatar'), avatar, profile.display_name || profile.username);
    removeButton.hidden = avatar === null;
  }

  /**
   * Reads the profile and picture; throws ApiError when the profile cannot be read. The name form is
   * disabled until the answer is in: a name typed meanwhile would be overwritten by the one read.
   */
  async function load() {
    await whileBusy(form, async () => {
      profile = await api('GET', '/api/auth/profile');
      byId('profile-username').textContent = profile?.username ?? '–';
      nameInput.value = profile?.display_name ?? '';
    });
    avatar = null;
    if (profile?.has_avatar !== false) {
      try {
        avatar = await loadAvatar();
      } catch {
        avatar = null; // the name still shows
      }
    }
    publish();
    return profile;
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const errorBox = byId('profile-form-error');
    const statusBox = byId('profile-status');
    showMessage(errorBox, '');
    showMessage(statusBox, '');
    await whileBusy(form, async () => {
      try {
        const answer = await api('PUT', '/api/auth/profile', { json: { display_name: nameInput.value.trim() } });
        profile = { ...profile, display_name: answer?.display_name ?? nameInput.value.trim() };
        nameInput.value = profile.display_name ?? '';
        publish();
        showMessage(statusBox, 'Saved.');
      } catch (error) {
        showMessage(errorBox, error.message);
      }
    });
  });

  avatarForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const errorBox = byId('avatar-error');
    const statusBox = byId('avatar-status');
    showMessage(errorBox, '');
    showMessage(statusBox, '');
    const file = fileInput.files?.[0];
    if (!file) {
      showMessage(errorBox, 'Choose an image first.');
      return;
    }
    if (!AVATAR_TYPES.has(file.type)) {
      showMessage(errorBox, 'Use a PNG, JPEG, WebP or GIF image.');
      return;
    }
    if (file.size > MAX_AVATAR_BYTES) {
      showMessage(errorBox, 'The image is larger than 2 MB.');
      return;
    }
    await whileBusy(avatarForm, async () => {
      try {
        await api('POST', AVATAR_PATH, { body: file, contentType: file.type });
        avatarForm.reset();
        avatar = await loadAvatar().catch(() => null);
        publish();
        showMessage(statusBox, 'Picture updated.');
      } catch (error) {
        showMessage(errorBox, error.message);
      }
    });
    removeButton.hidden = avatar === null;
  });

  removeButton.addEventListener('click', async () => {
    const errorBox = byId('avatar-error');
    showMessage(errorBox, '');
    try {
      await api('DELETE', AVATAR_PATH);
      avatar = null;
      publish();
      showMessage(byId('avatar-status'), 'Picture removed.');
      fileInput.focus();
    } catch (error) {
      showMessage(errorBox, error.message);
    }
  });

  return {
    load,
    /** The tab opened: show a load failure inside the tab. */
    async show() {
      showMessage(byId('profile-error'), '');
      try {
        await load();
      } catch (error) {
        showMessage(byId('profile-error'), `Could not load your profile. ${error.message}`);
      }
    },
    reset() {
      profile = null;
      avatar = null;
      form.reset();
      avatarForm.reset();
      for (const id of ['profile-error', 'profile-form-error', 'profile-status', 'avatar-error', 'avatar-status']) showMessage(byId(id), '');
      paintAvatar(byId('profile-avatar'), null, '');
    },
  };
}
