/**
 * Gatehouse Monitor dashboard. Decides from GET /api/auth/status what to show:
 *   - signed in with the monitor's own login, or through the gateway (Remote-User) → the dashboard;
 *   - never set up and not declined → "Protect your dashboard?";
 *   - login declined → the dashboard if the monitor answers without a login, else an explanation;
 *   - otherwise → sign in.
 */
import { api, ApiError, forgetToken, onSessionExpired, rememberToken, sessionToken } from './api.js';
import { createAuthScreens } from './auth-screens.js';
import { paintAvatar } from './avatar.js';
import { byId, showMessage } from './dom.js';
import { createOverview } from './overview.js';
import { createProfile } from './profile.js';
import { createSecurity } from './security.js';
import { setUpTabs } from './tabs.js';
import { createTerminal } from './terminal.js';

const VIEWS = ['loading', 'unavailable', 'declined', 'setup', 'login', 'dashboard'];

/**
 * Who is using the page. mode: session (the monitor's own login), gateway (Remote-User from the
 * gateway) or open (no login at all, and the monitor answers anyway).
 */
const session = { mode: null, username: null, scope: null, totpEnabled: false, authEnabled: false, gatewayPortal: null };

function showView(name) {
  for (const view of VIEWS) byId(`view-${view}`).hidden = view !== name;
  if (name !== 'dashboard') byId('identity').hidden = true;
}

function showIdentity({ username, displayName = '', avatar = null }) {
  const name = displayName || username || '';
  byId('identity-name').textContent = name;
  byId('identity-name').title = displayName && username ? username : '';
  // who is signed in and how: through the gateway's login or the monitor's own
  const via = { gateway: 'signed in through the gateway', session: 'signed in to this monitor' }[session.mode];
  byId('identity-via').textContent = via ?? '';
  byId('identity-via').hidden = via === undefined;
  // through the gateway, signing out ends the gateway session (its portal's sign-out); without a known portal there is none to offer
  byId('logout-button').hidden = !(session.mode === 'session' || (session.mode === 'gateway' && session.gatewayPortal));
  paintAvatar(byId('identity-avatar'), avatar, name);
  byId('identity').hidden = name === '';
}

function showHostname(hostname) {
  byId('brand-host').textContent = hostname;
  document.title = hostname ? `${hostname} · Gatehouse Monitor` : 'Gatehouse Monitor';
}

function applyStatus(status) {
  session.username = status?.username ?? null;
  session.scope = status?.scope ?? null;
  session.totpEnabled = Boolean(status?.totp_enabled);
  session.authEnabled = Boolean(status?.auth_enabled);
  session.gatewayPortal = typeof status?.gateway_portal === 'string' ? status.gateway_portal : null;
}

/**
 * Ends the gateway session: the portal's own sign-out form, posted by the browser as a top-level
 * navigation when the portal shares this page's origin (its cross-site check accepts that); on
 * another origin the portal's page, whose Sign out button does the same.
 */
function signOutOfGateway(portal) {
  const url = new URL(portal, location.href);
  if (url.origin !== location.origin) {
    location.assign(url.href);
    return;
  }
  const form = document.createElement('form');
  form.method = 'post';
  form.action = new URL('logout', url).href;
  document.body.append(form);
  form.submit();
}

const overview = createOverview({ onHostname: showHostname });
const terminal = createTerminal();
const profile = createProfile({ onIdentity: showIdentity });
const security = createSecurity({
  getSession: () => session,
  refreshSession: async () => applyStatus(await api('GET', '/api/auth/status')),
  openSetup: () => {
    leaveDashboard();
    screens.showSetup();
  },
});
const screens = createAuthScreens({
  showView,
  onToken: async (token) => {
    rememberToken(token);
    await start();
  },
  onSkipped: () => start(),
  onSetupBack: () => start(),
});

const tabs = setUpTabs(byId('tabs'), (name, previous) => {
  if (previous === 'overview') overview.stop();
  if (name === 'overview') overview.start();
  if (name === 'security') security.show();
  if (name === 'profile') profile.show();
  if (name === 'terminal') terminal.show();
});

function leaveDashboard() {
  overview.stop();
  terminal.reset();
  security.reset();
  profile.reset();
  showHostname('');
}

/** Tabs the current user cannot use are not offered. */
function availableTabs() {
  const hidden = new Set();
  // the profile (display name, picture) belongs to the monitor's own login
  if (session.mode !== 'session') hidden.add('profile');
  // the terminal needs full_admin; with no login at all it is refused anyway
  if (session.mode === 'open' || session.scope === 'read_only') hidden.add('terminal');
  for (const name of ['overview', 'security', 'profile', 'terminal']) byId(`tab-${name}`).hidden = hidden.has(name);
  return hidden;
}

async function enterDashboard() {
  byId('auth-off-banner').hidden = session.mode !== 'open';
  showView('dashboard');
  showIdentity({ username: session.username ?? '' });
  // the header names the host whichever tab opens first (the Overview keeps it current)
  api('GET', '/api/system-info')
    .then((info) => showHostname(info?.hostname ?? ''))
    .catch(() => {});
  if (session.mode === 'session') {
    profile.load().catch(() => {
      // the header keeps the username; the Profile tab shows the error when opened
    });
  }
  const hidden = availableTabs();
  const wanted = tabs.fromLocation();
  tabs.select(hidden.has(wanted) ? 'overview' : wanted, { reopen: true });
}

/** After "Not now": does the monitor answer without any login? */
async function answersWithoutLogin() {
  try {
    await api('GET', '/api/system-info');
    await api('GET', '/api/system');
    return true;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return false;
    throw error;
  }
}

/** Asks the monitor who we are and shows the matching screen. */
async function start() {
  showView('loading');
  session.mode = null;
  try {
    const status = await api('GET', '/api/auth/status');
    screens.close();
    applyStatus(status);
    if (status?.authenticated) {
      session.mode = status.via === 'remote_user' ? 'gateway' : 'session';
      // through the gateway, the gateway's session is the one that counts
      if (session.mode === 'gateway') forgetToken();
      await enterDashboard();
      return;
    }
    if (sessionToken() !== null) forgetToken(); // it was refused: expired or revoked
    if (!status?.auth_configured && !status?.declined) {
      screens.showFirstLaunch();
      return;
    }
    if (!status?.auth_enabled) {
      if (await answersWithoutLogin()) {
        session.mode = 'open';
        await enterDashboard();
      } else {
        showView('declined');
      }
      return;
    }
    screens.showLogin();
  } catch (error) {
    showMessage(byId('unavailable-message'), error.message);
    showView('unavailable');
  }
}

onSessionExpired(() => {
  forgetToken();
  leaveDashboard();
  session.mode = null;
  screens.showLogin('Your session has ended. Sign in again.');
});

byId('logout-button').addEventListener('click', async () => {
  if (session.mode === 'gateway' && session.gatewayPortal) return signOutOfGateway(session.gatewayPortal);
  try {
    await api('POST', '/api/auth/logout');
  } catch {
    // the token is forgotten either way
  }
  forgetToken();
  leaveDashboard();
  session.mode = null;
  screens.showLogin('You are signed out.');
});

byId('unavailable-retry').addEventListener('click', () => start());
byId('declined-retry').addEventListener('click', () => start());

start();
