/**
 * The Security tab: two-factor authentication (enrol with QR code and backup codes, turn off),
 * API tokens (list, create – shown once –, revoke) and the password.
 * Secrets shown here (TOTP key, backup codes, a new token) live only in the DOM while on screen and
 * are wiped when the step ends; they never go to the console, the URL or storage.
 */
import { api, rememberToken } from './api.js';
import { confirmAction } from './confirm.js';
import { byId, copyText, downloadText, element, showMessage, whileBusy } from './dom.js';
import { formatDate } from './format.js';

const SCOPE_LABELS = { read_only: 'Read only', full_admin: 'Full admin' };
const INVALID_REASONS = {
  expired: 'Expired',
  secret_changed: 'Invalid: signed with an old key',
  legacy_token: 'Invalid: a ProxMenux token',
};

/** A TOTP code or a backup code as typed: spaces dropped, letters upper-cased (backup codes are XXXX-XXXX). */
export function normalizeCode(value) {
  return value.replace(/\s+/g, '').toUpperCase();
}

/** Decodes a base64 data URL into bytes and its type; null for anything else. */
function decodeDataUrl(url) {
  const match = /^data:([a-z0-9.+/-]+);base64,([A-Za-z0-9+/=]+)$/i.exec(url ?? '');
  if (match === null) return null;
  const binary = atob(match[2]);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return { type: match[1].toLowerCase(), bytes };
}

/**
 * Shows the QR code. A raster image is decoded and drawn on a canvas (no data: URL needed in the
 * page's img-src); an SVG one falls back to an <img>, which needs img-src data:.
 */
async function showQrCode(holder, dataUrl) {
  holder.replaceChildren();
  const decoded = decodeDataUrl(dataUrl);
  if (decoded !== null && decoded.type !== 'image/svg+xml') {
    try {
      const bitmap = await createImageBitmap(new Blob([decoded.bytes], { type: decoded.type }));
      const size = 200;
      const scale = window.devicePixelRatio || 1;
      const canvas = element('canvas', { width: Math.round(size * scale), height: Math.round(size * scale) });
      const context = canvas.getContext('2d');
      context.imageSmoothingEnabled = false; // keep the modules sharp
      context.fillStyle = '#fff';
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      holder.append(canvas);
      return;
    } catch {
      // fall through to <img>
    }
  }
  if (typeof dataUrl === 'string' && dataUrl.startsWith('data:image/')) holder.append(element('img', { src: dataUrl, alt: '', width: 200, height: 200 }));
}

export function createSecurity({ getSession, refreshSession, openSetup }) {
  const sections = {
    gateway: byId('security-gateway'),
    authOff: byId('security-auth-off'),
    totp: byId('security-totp'),
    tokens: byId('security-tokens'),
    password: byId('security-password'),
  };
  let enrolment = null; // { secret, codes } while the enrolment form is on screen

  // ---- two-factor authentication ----------------------------------------------------------

  const startForm = byId('totp-start-form');
  const enrolForm = byId('totp-enrol-form');
  const disableBox = byId('totp-disable');
  const totpStatus = byId('totp-status');
  const savedBox = byId('totp-saved');
  const enableCode = byId('totp-enable-code');
  const enableSubmit = byId('totp-enable-submit');

  function renderTotp() {
    const { totpEnabled } = getSession();
    byId('totp-state').textContent = totpEnabled
      ? 'Two-factor authentication is on: signing in needs a code from your authenticator app or a backup code.'
      : 'Two-factor authentication is off. Turn it on so a stolen password is not enough to sign in.';
    startForm.hidden = totpEnabled || enrolment !== null;
    enrolForm.hidden = enrolment === null;
    disableBox.hidden = !totpEnabled;
    showSecondFactorFields();
  }

  /** Forms that change credentials ask for a code while 2FA is on. */
  function showSecondFactorFields() {
    const { totpEnabled } = getSession();
    byId('token-totp-field').hidden = !totpEnabled;
    byId('password-totp-field').hidden = !totpEnabled;
  }

  function endEnrolment() {
    enrolment = null;
    byId('totp-qr').replaceChildren();
    byId('totp-secret').textContent = '';
    byId('totp-backup-codes').replaceChildren();
    savedBox.checked = false;
    enableCode.value = '';
    enableCode.disabled = true;
    enableSubmit.disabled = true;
    showMessage(byId('totp-enable-error'), '');
  }

  startForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const passwordInput = byId('totp-start-password');
    const errorBox = byId('totp-start-error');
    showMessage(errorBox, '');
    showMessage(totpStatus, '');
    await whileBusy(startForm, async () => {
      try {
        const answer = await api('POST', '/api/auth/totp/setup', { json: { password: passwordInput.value }, checksCredentials: true });
        if (!answer?.secret) throw new Error(answer?.message ?? 'The monitor did not return a key.');
        passwordInput.value = '';
        enrolment = { secret: answer.secret, codes: Array.isArray(answer.backup_codes) ? answer.backup_codes : [] };
        await showQrCode(byId('totp-qr'), answer.qr_code);
        byId('totp-secret').textContent = enrolment.secret;
        byId('totp-backup-codes').replaceChildren(...enrolment.codes.map((code) => element('li', { className: 'mono' }, String(code))));
      } catch (error) {
        showMessage(errorBox, error.message);
      }
    });
    renderTotp();
    if (enrolment !== null) byId('totp-copy-secret').focus();
  });

  savedBox.addEventListener('change', () => {
    enableCode.disabled = !savedBox.checked;
    enableSubmit.disabled = !savedBox.checked;
    if (savedBox.checked) enableCode.focus();
  });

  byId('totp-copy-secret').addEventListener('click', async () => {
    if (enrolment === null) return;
    showMessage(totpStatus, (await copyText(enrolment.secret)) ? 'Key copied.' : 'Copying failed: select the key and copy it by hand.');
  });
  byId('totp-copy-codes').addEventListener('click', async () => {
    if (enrolment === null) return;
    showMessage(totpStatus, (await copyText(enrolment.codes.join('\n'))) ? 'Backup codes copied.' : 'Copying failed: select the codes and copy them by hand.');
  });
  byId('totp-download-codes').addEventListener('click', () => {
    if (enrolment === null) return;
    const { username } = getSession();
    const text = `Gatehouse Monitor backup codes for ${username ?? 'your account'} (${location.host})\nEach code works once.\n\n${enrolment.codes.join('\n')}\n`;
    downloadText('gatehouse-monitor-backup-codes.txt', text);
  });
  byId('totp-enrol-cancel').addEventListener('click', () => {
    endEnrolment();
    renderTotp();
    byId('totp-start-password').focus();
  });

  enrolForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const errorBox = byId('totp-enable-error');
    showMessage(errorBox, '');
    const code = normalizeCode(enableCode.value);
    if (!/^\d{6}$/.test(code)) {
      showMessage(errorBox, 'Enter the 6-digit code your app shows now.');
      return;
    }
    await whileBusy(enrolForm, async () => {
      try {
        const answer = await api('POST', '/api/auth/totp/enable', { json: { token: code }, checksCredentials: true });
        if (answer && answer.success === false) throw new Error(answer.message ?? 'The code was not accepted.');
        endEnrolment();
        await refreshSession();
        showMessage(totpStatus, 'Two-factor authentication is on. Keep your backup codes safe.');
      } catch (error) {
        showMessage(errorBox, error.message);
        enableCode.value = '';
      }
    });
    // whileBusy re-enabled everything; the code field stays tied to the checkbox
    enableCode.disabled = !savedBox.checked;
    enableSubmit.disabled = !savedBox.checked;
    renderTotp();
    if (enrolment === null) byId('totp-title').focus();
    else enableCode.focus();
  });

  byId('totp-disable-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const errorBox = byId('totp-disable-error');
    showMessage(errorBox, '');
    const confirmed = await confirmAction({
      title: 'Turn off two-factor authentication?',
      text: 'Signing in will need only your password. Your backup codes stop working.',
      confirmLabel: 'Turn it off',
    });
    if (!confirmed) return;
    await whileBusy(form, async () => {
      try {
        await api('POST', '/api/auth/totp/disable', {
          json: { password: byId('totp-disable-password').value, totp_code: normalizeCode(byId('totp-disable-code').value) },
          checksCredentials: true,
        });
        form.reset();
        disableBox.open = false;
        await refreshSession();
        showMessage(totpStatus, 'Two-factor authentication is off.');
      } catch (error) {
        showMessage(errorBox, error.message);
      }
    });
    renderTotp();
  });

  // ---- API tokens -------------------------------------------------------------------------

  const tokensBody = byId('tokens-body');
  const tokensError = byId('tokens-error');
  const createForm = byId('token-create-form');
  const createdBox = byId('token-created');
  const createdValue = byId('token-created-value');

  function tokenStatus(token) {
    if (token.revoked) return ['Revoked', 'muted'];
    if (token.valid === false) return [INVALID_REASONS[token.invalidation_reason] ?? 'Invalid', 'bad'];
    if (token.expires_at && new Date(token.expires_at).getTime() < Date.now()) return ['Expired', 'bad'];
    return ['Active', 'good'];
  }

  async function revoke(token) {
    const confirmed = await confirmAction({
      title: `Revoke “${token.name ?? 'token'}”?`,
      text: 'Scripts using this token stop working at once. This cannot be undone.',
      confirmLabel: 'Revoke token',
    });
    if (!confirmed) return;
    try {
      await api('DELETE', `/api/auth/api-tokens/${encodeURIComponent(token.id)}`);
      await loadTokens();
      byId('tokens-title').focus();
    } catch (error) {
      showMessage(tokensError, error.message);
    }
  }

  /** "····abcd": the token's last characters, so two tokens of one name are told apart; "…" for tokens made before they were kept. */
  function tokenEnding(token) {
    const last4 = typeof token.token_last4 === 'string' ? token.token_last4 : null;
    return element(
      'span',
      { className: 'token-prefix mono', title: last4 ? `Ends in ${last4}` : 'Made before the dashboard kept the last characters' },
      last4 ? `····${last4}` : '…',
    );
  }

  async function loadTokens() {
    showMessage(tokensError, '');
    let tokens;
    try {
      const answer = await api('GET', '/api/auth/api-tokens');
      tokens = Array.isArray(answer?.tokens) ? answer.tokens : [];
    } catch (error) {
      showMessage(tokensError, `Could not load the tokens. ${error.message}`);
      return;
    }
    const rows = tokens.map((token) => {
      const [status, tone] = tokenStatus(token);
      const actions = element('td', { className: 'actions-cell' });
      if (!token.revoked && getSession().scope !== 'read_only') {
        const button = element('button', { type: 'button', className: 'button danger-quiet small' }, 'Revoke');
        button.setAttribute('aria-label', `Revoke token ${token.name ?? token.id}`);
        button.addEventListener('click', () => revoke(token));
        actions.append(button);
      }
      return element(
        'tr',
        {},
        element('th', { scope: 'row' }, token.name ?? '–', ' ', tokenEnding(token)),
        element('td', { 'data-label': 'Scope' }, SCOPE_LABELS[token.scope] ?? token.scope ?? '–'),
        element('td', { 'data-label': 'Created' }, formatDate(token.created_at)),
        element('td', { 'data-label': 'Expires' }, formatDate(token.expires_at)),
        element('td', { 'data-label': 'Status' }, element('span', { className: `pill ${tone}` }, status)),
        actions,
      );
    });
    if (rows.length === 0) rows.push(element('tr', {}, element('td', { colSpan: 6, className: 'muted' }, 'No API tokens yet.')));
    tokensBody.replaceChildren(...rows);
  }

  createForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const errorBox = byId('token-create-error');
    showMessage(errorBox, '');
    const totpField = byId('token-totp-field');
    const totpInput = byId('token-totp');
    const body = {
      token_name: byId('token-name').value.trim(),
      scope: byId('token-scope').value,
      expires_in_days: Number(byId('token-expiry').value),
      password: byId('token-password').value,
    };
    if (!totpField.hidden && totpInput.value.trim() !== '') body.totp_token = normalizeCode(totpInput.value);
    await whileBusy(createForm, async () => {
      try {
        const answer = await api('POST', '/api/auth/generate-api-token', { json: body, checksCredentials: true });
        if (answer?.requires_totp && !answer?.token) {
          totpField.hidden = false;
          showMessage(errorBox, 'Enter a code from your authenticator app to create a token.');
          return;
        }
        if (!answer?.token) throw new Error(answer?.message ?? 'The monitor did not return a token.');
        createForm.reset();
        byId('token-create').open = false;
        createdValue.value = answer.token;
        showMessage(byId('token-copy-status'), '');
        createdBox.hidden = false;
        await loadTokens();
      } catch (error) {
        showMessage(errorBox, error.message);
        totpInput.value = '';
      }
    });
    if (!createdBox.hidden) byId('token-copy').focus();
  });

  byId('token-copy').addEventListener('click', async () => {
    const copied = await copyText(createdValue.value);
    if (!copied) createdValue.select();
    byId('token-copy-status').textContent = copied ? 'Copied to the clipboard.' : 'Copying failed: the token is selected, copy it by hand.';
  });

  function hideCreatedToken() {
    createdValue.value = '';
    createdBox.hidden = true;
  }

  byId('token-created-done').addEventListener('click', () => {
    hideCreatedToken();
    byId('tokens-title').focus();
  });

  // ---- password -----------------------------------------------------------------------------

  const passwordForm = byId('password-form');
  passwordForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const errorBox = byId('password-error');
    const statusBox = byId('password-status');
    showMessage(errorBox, '');
    showMessage(statusBox, '');
    const newPassword = byId('password-new').value;
    if (newPassword !== byId('password-confirm').value) {
      showMessage(errorBox, 'The new passwords do not match.');
      return;
    }
    const body = { old_password: byId('password-old').value, new_password: newPassword };
    const code = normalizeCode(byId('password-totp').value);
    if (code !== '') body.totp_code = code;
    await whileBusy(passwordForm, async () => {
      try {
        const answer = await api('POST', '/api/auth/change-password', { json: body, checksCredentials: true });
        if (answer && answer.success === false) throw new Error(answer.message ?? 'The password was not changed.');
        // the old session ended with the old password; the answer carries its successor
        if (typeof answer?.token === 'string') rememberToken(answer.token);
        passwordForm.reset();
        showMessage(statusBox, answer?.message ?? 'Your password was changed.');
      } catch (error) {
        showMessage(errorBox, error.message);
      }
    });
  });

  byId('security-setup-login').addEventListener('click', () => openSetup());

  // headings are focus targets after an action removes the focused element
  for (const id of ['totp-title', 'tokens-title']) byId(id).tabIndex = -1;

  return {
    /** The tab opened (or the session changed): show what applies and reload the token list. */
    show() {
      const { mode, scope, authEnabled } = getSession();
      const ownLogin = mode === 'session';
      const admin = scope === 'full_admin';
      sections.gateway.hidden = mode !== 'gateway';
      const portal = getSession().gatewayPortal;
      byId('security-gateway-settings').hidden = !portal;
      if (portal) byId('security-gateway-settings-link').href = new URL('settings', portal).href;
      // a gateway administrator may give the monitor a login of its own for direct access
      sections.authOff.hidden = !(mode === 'open' || (mode === 'gateway' && admin && !authEnabled));
      sections.totp.hidden = !ownLogin;
      sections.password.hidden = !ownLogin;
      sections.tokens.hidden = mode === 'open';
      // creating a token re-checks the password of the monitor's own login
      byId('token-create').hidden = !(admin && authEnabled);
      byId('token-password-label').textContent = ownLogin ? 'Your password' : "Password of the monitor's login";
      showSecondFactorFields();
      if (ownLogin) renderTotp();
      if (!sections.tokens.hidden) loadTokens();
    },
    /** Signed out: wipe every secret and form. */
    reset() {
      endEnrolment();
      hideCreatedToken();
      for (const form of [startForm, createForm, passwordForm, byId('totp-disable-form')]) form.reset();
      for (const id of ['totp-start-error', 'totp-disable-error', 'token-create-error', 'password-error', 'tokens-error']) showMessage(byId(id), '');
      for (const box of [totpStatus, byId('password-status')]) showMessage(box, '');
      tokensBody.replaceChildren();
    },
  };
}
