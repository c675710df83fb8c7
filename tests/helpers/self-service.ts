/**
 * For the self-service tests (elevation, password reset, change password): a gateway that mails through
 * a real SMTP server started here, form posts as the portal's pages send them, and reading the mail.
 */
import { PORTAL_ORIGIN, portal, startInProcessGateway, type InProcessGateway, type InProcessGatewayOptions, type TestUser } from './inprocess-gateway.ts';
import type { HttpResponse } from './http.ts';
import { startSmtpServer, type ReceivedMail, type SmtpServerOptions, type TestSmtpServer } from './smtp-server.ts';

export const USERS: Record<string, TestUser> = {
  alice: { password: 'Old-Lantern-Orbit-47', email: 'alice@example.test', displayname: 'Alice Liddell' },
  bob: { password: 'Bobs-Quiet-Harbour-12', email: 'bob@example.test' },
  nomail: { password: 'No-Address-Here-99' },
};

/** One rule, so the default `deny` is a valid policy; the portal is what these tests use. */
export const ACCESS_CONTROL = { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] };

export interface MailingGateway {
  gw: InProcessGateway;
  smtp: TestSmtpServer;
  close(): Promise<void>;
}

/** A gateway whose notifier is SMTP to a server started here (plain text on loopback). */
export async function startMailingGateway(options: InProcessGatewayOptions & { smtp?: Partial<SmtpServerOptions> } = {}): Promise<MailingGateway> {
  const smtp = await startSmtpServer({ tls: 'none', ...options.smtp });
  const notifier = { smtp: { address: `smtp://127.0.0.1:${smtp.port}`, sender: 'Gatehouse <gatehouse@example.test>', disable_require_tls: true } };
  try {
    const gw = await startInProcessGateway({ users: USERS, ...options, config: { access_control: ACCESS_CONTROL, notifier, ...options.config } });
    return { gw, smtp, close: async () => { await gw.close(); await smtp.close(); } };
  } catch (error) {
    await smtp.close();
    throw error;
  }
}

export function formBody(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

/** A form post from the portal's own page. */
export function postForm(gw: { port: number }, path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<HttpResponse> {
  return portal(gw, path, { method: 'POST', body: formBody(fields), headers: { 'content-type': 'application/x-www-form-urlencoded', origin: PORTAL_ORIGIN, ...headers } });
}

/** A JSON call from the portal's own page. */
export function postJson(gw: { port: number }, path: string, json: unknown, headers: Record<string, string> = {}, method = 'POST'): Promise<HttpResponse> {
  return portal(gw, path, { method, json, headers: { origin: PORTAL_ORIGIN, accept: 'application/json', ...headers } });
}

/**
 * Waits until `check` returns a value (mail arrives after the answer to a reset request, by design).
 * Bounded: fails with `what` rather than hanging.
 */
export async function waitFor<T>(what: string, check: () => T | undefined | null | false, attempts = 500): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = check();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function mailTo(smtp: TestSmtpServer, address: string, from = 0): ReceivedMail[] {
  return smtp.received.slice(from).filter((mail) => mail.envelopeTo.includes(address));
}

/** The first https link in a mail's text whose path contains `path`. */
export function linkIn(mail: ReceivedMail, path: string): URL {
  const found = [...mail.text.matchAll(/https?:\/\/[^\s<>"]+/g)].map((m) => new URL(m[0])).find((url) => url.pathname.includes(path));
  if (!found) throw new Error(`no link to ${path} in: ${mail.text}`);
  return found;
}

/** The audit lines (`gatehouse-account: …` and `gatehouse-auth: …`) logged so far. */
export function auditLines(gw: InProcessGateway): string[] {
  return gw.logs().map((r) => String(r.msg)).filter((msg) => msg.startsWith('gatehouse-'));
}

/** The session cookie a response set, as a Cookie header value. */
export function sessionCookie(response: HttpResponse, previous = ''): string {
  const cookie = response.cookies.find((c) => c.name === 'gatehouse_session');
  return cookie ? `gatehouse_session=${cookie.value}` : previous;
}
