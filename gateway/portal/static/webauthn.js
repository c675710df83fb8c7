/**
 * The portal's WebAuthn ceremonies in the browser: adding a security key or passkey (settings page),
 * a security key as the second factor (/2fa) and signing in with a passkey (login page). Each widget is
 * an element with `data-webauthn="register|second-factor|passkey"`, hidden until this script shows it
 * (without JavaScript the page's <noscript> text says the ceremony needs it). Its data attributes hold
 * the portal's base path, where to go afterwards and the sentences to show, already translated.
 * The ceremonies themselves are @simplewebauthn/browser's (served by the gateway as SimpleWebAuthnBrowser).
 */
(function () {
  'use strict';

  const lib = window.SimpleWebAuthnBrowser;

  /** JSON to and from the portal's API; resolves to the parsed body, whatever the status. */
  async function api(method, url, body) {
    const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
    return { status: response.status, body: parsed };
  }

  function say(widget, text) {
    const status = widget.querySelector('[data-webauthn-status]');
    if (status) status.textContent = text;
  }

  /** Where to go after a sign-in: the API's redirect, else the portal (which shows who is signed in). */
  function follow(widget, answer) {
    const data = answer.body && answer.body.data;
    window.location.assign(data && typeof data.redirect === 'string' ? data.redirect : widget.dataset.base);
  }

  /** The browser refused or the user cancelled: the ceremony's own error is no sentence for people. */
  function ceremonyFailed(widget, error) {
    say(widget, error && error.name === 'NotAllowedError' ? widget.dataset.msgCancelled : widget.dataset.msgFailed);
  }

  async function register(widget, form) {
    const base = widget.dataset.base;
    const description = form.elements.namedItem('description').value.trim();
    const options = await api('PUT', `${base}api/secondfactor/webauthn/credential/register`, { description });
    if (options.status !== 200) return say(widget, (options.body && options.body.message) || widget.dataset.msgFailed);
    let credential;
    try {
      credential = await lib.startRegistration({ optionsJSON: options.body.data.publicKey });
    } catch (error) {
      await api('DELETE', `${base}api/secondfactor/webauthn/credential/register`, {});
      return ceremonyFailed(widget, error);
    }
    const saved = await api('POST', `${base}api/secondfactor/webauthn/credential/register`, credential);
    if (saved.status !== 201) return say(widget, widget.dataset.msgFailed);
    const mailFailed = saved.body.data && saved.body.data.notification;
    window.location.assign(`${base}settings/webauthn?done=added${mailFailed ? '&mail=failed' : ''}`);
  }

  async function signIn(widget, optionsUrl, extra) {
    const options = await api('GET', optionsUrl);
    if (options.status !== 200) return say(widget, widget.dataset.msgFailed);
    let assertion;
    try {
      assertion = await lib.startAuthentication({ optionsJSON: options.body.data.publicKey });
    } catch (error) {
      return ceremonyFailed(widget, error);
    }
    const answer = await api('POST', optionsUrl, { response: assertion, targetURL: widget.dataset.rd || undefined, requestMethod: widget.dataset.rm || undefined, ...extra });
    if (answer.status !== 200) return say(widget, widget.dataset.msgFailed);
    follow(widget, answer);
  }

  function keepMeLoggedIn() {
    const box = document.querySelector('input[name="keepMeLoggedIn"]');
    return box ? box.checked : false;
  }

  /** Runs `task` with the widget's button disabled, so one click is one ceremony. */
  function guarded(button, task) {
    return async (event) => {
      event.preventDefault();
      if (button.disabled) return;
      button.disabled = true;
      try {
        await task();
      } finally {
        button.disabled = false;
      }
    };
  }

  for (const widget of document.querySelectorAll('[data-webauthn]')) {
    if (!lib || !lib.browserSupportsWebAuthn()) {
      widget.hidden = false;
      const button = widget.querySelector('button');
      if (button) button.disabled = true;
      say(widget, widget.dataset.msgUnsupported);
      continue;
    }
    widget.hidden = false;
    const base = widget.dataset.base;
    const kind = widget.dataset.webauthn;
    const button = widget.querySelector('button');
    if (kind === 'register') {
      const form = widget.querySelector('form');
      form.addEventListener('submit', guarded(button, () => register(widget, form)));
    } else if (kind === 'second-factor') {
      button.addEventListener('click', guarded(button, () => signIn(widget, `${base}api/secondfactor/webauthn`, {})));
    } else if (kind === 'passkey') {
      button.addEventListener('click', guarded(button, () => signIn(widget, `${base}api/firstfactor/passkey`, { keepMeLoggedIn: keepMeLoggedIn() })));
    }
  }
})();
