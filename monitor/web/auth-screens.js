/**
 * The screens before the dashboard: the first-launch question ("Protect your dashboard?"), the
 * login setup form, and sign-in with its second step (TOTP or backup code) when `requires_totp`.
 */
import { api } from './api.js';
import { byId, showMessage, whileBusy } from './dom.js';
import { normalizeCode } from './security.js';

/**
 * `showView(name)` switches the page; `onToken(token)` is called with a new session token;
 * `onSkipped()` after "Not now"; `onSetupBack()` when the setup form is left without a login.
 */
export function createAuthScreens({ showView, onToken, onSkipped, onSetupBack }) {
  const dialog = byId('first-launch-dialog');
  const loginForm = byId('login-form');
  const totpStep = byId('login-totp-step');
  const passwordStep = byId('login-password-step');
  const loginError = byId('login-error');

  // ---- first launch ---------------------------------------------------------------------------

  // a decision is required: Escape does not dismiss the question
  dialog.addEventListener('cancel', (event) => event.preventDefault());

  /** The setup code from the monitor's log: both answers need it, unless a gateway admin is signed in. */
  let setupCode = '';
  const codeInput = byId('first-launch-code');

  function readSetupCode() {
    const code = codeInput.value.trim();
    if (code !== '') return code;
    showMessage(byId('first-launch-error'), "Enter the setup code from the monitor's log first.");
    codeInput.focus();
    return null;
  }

  byId('first-launch-setup').addEventListener('click', () => {
    const code = readSetupCode();
    if (code === null) return;
    dialog.close();
    showSetup(code);
  });

  byId('first-launch-skip').addEventListener('click', async (event) => {
    const button = event.currentTarget;
    const errorBox = byId('first-launch-error');
    showMessage(errorBox, '');
    const code = readSetupCode();
    if (code === null) return;
    button.disabled = true;
    try {
      await api('POST', '/api/auth/skip', { json: { setup_code: code } });
      dialog.close();
      onSkipped();
    } catch (error) {
      showMessage(errorBox, error.message);
    } finally {
      button.disabled = false;
    }
  });

  function showFirstLaunch() {
    showView(null); // the question stands alone over an empty page
    showMessage(byId('first-launch-error'), '');
    codeInput.value = setupCode;
    if (!dialog.open) dialog.showModal();
    codeInput.focus();
  }

  // ---- setup ----------------------------------------------------------------------------------

  const setupForm = byId('setup-form');

  /** `code`: the setup code from the first-launch question; none when a gateway admin adds a login. */
  function showSetup(code = '') {
    setupCode = code;
    setupForm.reset();
    showMessage(byId('setup-error'), '');
    showView('setup');
    byId('setup-username').focus();
  }

  setupForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const errorBox = byId('setup-error');
    showMessage(errorBox, '');
    const username = byId('setup-username').value.trim();
    const password = byId('setup-password').value;
    if (password !== byId('setup-confirm').value) {
      showMessage(errorBox, 'The passwords do not match.');
      byId('setup-confirm').focus();
      return;
    }
    await whileBusy(setupForm, async () => {
      try {
        const json = setupCode === '' ? { username, password } : { username, password, setup_code: setupCode };
        const answer = await api('POST', '/api/auth/setup', { json, checksCredentials: true });
        if (answer?.success === false || !answer?.token) throw new Error(answer?.message ?? answer?.error ?? 'The login was not created.');
        setupForm.reset();
        setupCode = '';
        codeInput.value = '';
        await onToken(answer.token);
      } catch (error) {
        showMessage(errorBox, error.message);
      }
    });
  });

  byId('setup-cancel').addEventListener('click', () => onSetupBack());

  // ---- sign in --------------------------------------------------------------------------------

  function toPasswordStep() {
    totpStep.hidden = true;
    passwordStep.hidden = false;
    byId('login-totp').value = '';
    byId('login-back').hidden = true;
    byId('login-submit').textContent = 'Sign in';
  }

  /** `notice`: why the sign-in form is back (signed out, session ended). */
  function showLogin(notice = '') {
    loginForm.reset();
    toPasswordStep();
    showMessage(loginError, '');
    showMessage(byId('login-notice'), notice);
    showView('login');
    byId('login-username').focus();
  }

  byId('login-back').addEventListener('click', () => {
    toPasswordStep();
    byId('login-password').value = '';
    showMessage(loginError, '');
    byId('login-password').focus();
  });

  loginForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    showMessage(loginError, '');
    showMessage(byId('login-notice'), '');
    const body = { username: byId('login-username').value.trim(), password: byId('login-password').value };
    const secondStep = !totpStep.hidden;
    if (secondStep) {
      const code = normalizeCode(byId('login-totp').value);
      if (code === '') {
        showMessage(loginError, 'Enter the code from your authenticator app or a backup code.');
        byId('login-totp').focus();
        return;
      }
      body.totp_token = code;
    }
    await whileBusy(loginForm, async () => {
      try {
        const answer = await api('POST', '/api/auth/login', { json: body, checksCredentials: true });
        if (answer?.token) {
          loginForm.reset();
          await onToken(answer.token);
          return;
        }
        if (answer?.requires_totp) {
          passwordStep.hidden = true;
          totpStep.hidden = false;
          byId('login-back').hidden = false;
          byId('login-submit').textContent = 'Verify';
          return;
        }
        showMessage(loginError, answer?.message ?? 'Sign-in failed.');
      } catch (error) {
        showMessage(loginError, error.message);
        if (secondStep) byId('login-totp').value = '';
      }
    });
    if (!totpStep.hidden) byId('login-totp').focus();
  });

  return {
    showFirstLaunch,
    showSetup,
    showLogin,
    /** Leaves every auth screen (the dialog included). */
    close() {
      if (dialog.open) dialog.close();
    },
  };
}
