/**
 * Talking to the monitor's API: JSON in and out, the session token attached as a Bearer header.
 * The token lives in sessionStorage (gone with the tab, unlike localStorage) and never in a URL.
 */

const TOKEN_KEY = 'gatehouse-monitor.session';

export function sessionToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // storage disabled: the user signs in again on every load
  }
}

export function rememberToken(token) {
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // storage disabled: the token is lost on reload, which is safe
  }
}

export function forgetToken() {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // nothing stored
  }
}

/** A refused or failed request; `message` is fit to show to the user. */
export class ApiError extends Error {
  constructor(status, message, body = null, retryAfterSeconds = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

let sessionExpired = () => {};

/** Called when a request made with the session token is answered 401: the session is over. */
export function onSessionExpired(handler) {
  sessionExpired = handler;
}

function retryAfterOf(response, body) {
  const fromBody = body && Number.isFinite(body.retry_after) ? body.retry_after : null;
  const header = Number.parseInt(response.headers.get('Retry-After') ?? '', 10);
  return fromBody ?? (Number.isFinite(header) ? header : null);
}

function messageOf(status, body, retryAfter) {
  let message = null;
  if (body && typeof body === 'object') {
    // ProxMenux answers with `message`, some routes (setup) with `error`
    if (typeof body.message === 'string' && body.message !== '') message = body.message;
    else if (typeof body.error === 'string' && body.error !== '') message = body.error;
  }
  if (status === 429) {
    const wait = retryAfter === null ? '' : ` Try again in ${retryAfter} s.`;
    return `${message ?? 'Too many attempts.'}${message?.includes('again') ? '' : wait}`;
  }
  if (message !== null) return message;
  if (status === 401) return 'You are not signed in.';
  if (status === 403) return 'You are not allowed to do this.';
  if (status === 413) return 'That is too large.';
  if (status >= 500) return `The monitor could not answer (HTTP ${status}). Try again later.`;
  return `The request failed (HTTP ${status}).`;
}

async function readBody(response) {
  const type = response.headers.get('Content-Type') ?? '';
  if (!type.includes('json')) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/**
 * One API call. `json` is sent as a JSON body; `body` with `contentType` as it is (the avatar).
 * `checksCredentials`: a 401 means "wrong password or code", not "session over".
 * Resolves with the parsed JSON body (null when there is none); rejects with ApiError.
 */
export async function api(method, path, options = {}) {
  const { json, body, contentType, checksCredentials = false, signal } = options;
  const headers = { Accept: 'application/json' };
  const token = sessionToken();
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(json);
  } else if (body !== undefined) {
    headers['Content-Type'] = contentType;
    payload = body;
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload, cache: 'no-store', credentials: 'same-origin', signal });
  } catch (error) {
    if (error?.name === 'AbortError') throw error;
    throw new ApiError(0, 'The monitor cannot be reached. Check the connection and try again.');
  }
  const data = await readBody(response);
  if (!response.ok) {
    const retryAfter = retryAfterOf(response, data);
    if (response.status === 401 && token !== null && !checksCredentials) sessionExpired();
    throw new ApiError(response.status, messageOf(response.status, data, retryAfter), data, retryAfter);
  }
  return data;
}

/** A binary resource (the avatar) fetched with the session token; null when there is none (404). */
export async function fetchBlob(path) {
  const headers = {};
  const token = sessionToken();
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, { headers, cache: 'no-store', credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'The monitor cannot be reached.');
  }
  if (response.status === 404) return null;
  if (!response.ok) throw new ApiError(response.status, messageOf(response.status, await readBody(response), null));
  return response.blob();
}
