/**
 * A user's security keys and passkeys, as Authelia 4.39's API: register (PUT options, POST the new
 * credential, DELETE to abandon), list, rename, delete. Adding or removing one mails the user; a mail
 * that could not be sent is said in the answer and never undoes the change.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { NotifierError } from '../notification/notifier.ts';
import { DESCRIPTION_MAX } from '../secondfactor/webauthn.ts';
import type { WebauthnCredential } from '../storage/webauthn.ts';
import type { UserDetails } from '../users/provider.ts';
import { sendAccountMail } from './account-mail.ts';
import { requestIp, type PortalDeps } from './deps.ts';
import { signedInUser } from './guards.ts';
import { save } from './session-middleware.ts';
import { ceremoniesOf, credentialJson, ko, ok, relyingParty, takeCeremony, WEBAUTHN_MESSAGES, webauthnOff } from './webauthn-common.ts';

const description = z.string().trim().min(1).max(DESCRIPTION_MAX);
const descriptionBody = z.object({ description });

/** Whether `name` is taken by another of the user's credentials (compared without case, as Authelia does). */
export function nameTaken(credentials: readonly WebauthnCredential[], name: string, except?: number): boolean {
  return credentials.some((c) => c.id !== except && c.description.toLowerCase() === name.toLowerCase());
}

/**
 * Mails `kind` about the credential; null when sent, else the sentence for the person (the change
 * stands: the audit already has the failure).
 */
export async function mailDeviceChange(deps: PortalDeps, req: Request, user: UserDetails, kind: 'device_added' | 'device_removed', device: string): Promise<string | null> {
  if (deps.notifier === null) return null; // no notifier configured: nothing is promised
  try {
    await sendAccountMail(deps, req, user, { kind, values: { device } });
    return null;
  } catch (error) {
    if (error instanceof NotifierError) return error.message;
    throw error;
  }
}

/** The credential `:credentialID` of the signed-in user, or undefined (another user's is not theirs). */
async function ownCredential(deps: PortalDeps, username: string, raw: unknown): Promise<WebauthnCredential | undefined> {
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) return undefined;
  const id = Number(raw);
  return (await deps.storage.webauthn.list(username)).find((c) => c.id === id);
}

/** GET /api/secondfactor/webauthn/credentials */
export function listCredentials(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    if (webauthnOff(deps, res)) return;
    const user = signedInUser(req);
    const rpId = req.cookieDomain!.domain;
    ok(res, (await deps.storage.webauthn.list(user.username)).map((c) => credentialJson(c, rpId)));
  };
}

/** PUT /api/secondfactor/webauthn/credential/register: options for a new credential named `description`. */
export function registrationOptions(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    if (webauthnOff(deps, res)) return;
    const user = signedInUser(req);
    const parsed = descriptionBody.safeParse(req.body);
    if (!parsed.success) return ko(res, 400, WEBAUTHN_MESSAGES.registerFailed);
    if (nameTaken(await deps.storage.webauthn.list(user.username), parsed.data.description)) return ko(res, 409, WEBAUTHN_MESSAGES.duplicateName);
    const started = await ceremoniesOf(deps).registrationOptions(relyingParty(req, deps), user, parsed.data.description);
    req.session.webauthnCeremony = started.ceremony;
    await save(req);
    ok(res, { publicKey: started.options });
  };
}

/** POST /api/secondfactor/webauthn/credential/register: the browser's new credential. */
export function registerCredential(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    if (webauthnOff(deps, res)) return;
    const user = signedInUser(req);
    const ip = requestIp(req, deps);
    const ceremony = takeCeremony(req);
    // deny: a ceremony begun by another user of this browser session is not this user's
    const mine = ceremony?.username === user.username ? ceremony : undefined;
    const body = req.body as unknown;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return ko(res, 400, WEBAUTHN_MESSAGES.registerFailed);
    const checked = await ceremoniesOf(deps).verifyRegistration(relyingParty(req, deps), mine, body as Record<string, unknown>);
    if (!checked.ok) {
      deps.audit.account({ rhost: ip, user: user.username, what: 'webauthn credential refused', detail: checked.detail ? `${checked.reason}: ${checked.detail}` : checked.reason, failed: true });
      return ko(res, checked.reason === 'no_ceremony' || checked.reason === 'expired' ? 403 : 400, WEBAUTHN_MESSAGES.registerFailed);
    }
    const name = checked.credential.description;
    deps.audit.account({ rhost: ip, user: user.username, what: 'webauthn credential added', detail: name });
    const mailProblem = await mailDeviceChange(deps, req, user, 'device_added', name);
    ok(res, { id: checked.credential.id, description: name, discoverable: checked.credential.discoverable, ...(mailProblem ? { notification: mailProblem } : {}) }, 201);
  };
}

/** DELETE /api/secondfactor/webauthn/credential/register: abandons the registration under way. */
export function abandonRegistration(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    if (webauthnOff(deps, res)) return;
    takeCeremony(req);
    ok(res);
  };
}

/** Renames the user's credential; the answer says what went wrong, in Authelia's words. */
export async function renameCredential(deps: PortalDeps, req: Request, user: UserDetails, rawId: unknown, rawName: unknown): Promise<'renamed' | 'not_found' | 'invalid' | 'taken'> {
  const parsed = description.safeParse(rawName);
  if (!parsed.success) return 'invalid';
  const credential = await ownCredential(deps, user.username, rawId);
  if (!credential) return 'not_found';
  if (nameTaken(await deps.storage.webauthn.list(user.username), parsed.data, credential.id)) return 'taken';
  if (!(await deps.storage.webauthn.rename(user.username, credential.id, parsed.data))) return 'not_found';
  deps.audit.account({ rhost: requestIp(req, deps), user: user.username, what: 'webauthn credential renamed', detail: `${credential.description} -> ${parsed.data}` });
  return 'renamed';
}

/** Deletes the user's credential and mails them; `mailProblem` when the notice could not be sent. */
export async function deleteCredential(deps: PortalDeps, req: Request, user: UserDetails, rawId: unknown): Promise<{ deleted: false } | { deleted: true; mailProblem: string | null }> {
  const credential = await ownCredential(deps, user.username, rawId);
  if (!credential || !(await deps.storage.webauthn.delete(user.username, credential.id))) return { deleted: false };
  deps.audit.account({ rhost: requestIp(req, deps), user: user.username, what: 'webauthn credential removed', detail: credential.description });
  return { deleted: true, mailProblem: await mailDeviceChange(deps, req, user, 'device_removed', credential.description) };
}

/** PUT /api/secondfactor/webauthn/credential/:credentialID {description} */
export function renameCredentialApi(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    if (webauthnOff(deps, res)) return;
    const outcome = await renameCredential(deps, req, signedInUser(req), req.params.credentialID, (req.body as { description?: unknown } | undefined)?.description);
    if (outcome === 'renamed') return ok(res);
    ko(res, outcome === 'taken' ? 409 : outcome === 'invalid' ? 400 : 403, outcome === 'taken' ? WEBAUTHN_MESSAGES.duplicateName : WEBAUTHN_MESSAGES.operationFailed);
  };
}

/** DELETE /api/secondfactor/webauthn/credential/:credentialID */
export function deleteCredentialApi(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    if (webauthnOff(deps, res)) return;
    const outcome = await deleteCredential(deps, req, signedInUser(req), req.params.credentialID);
    if (!outcome.deleted) return ko(res, 403, WEBAUTHN_MESSAGES.operationFailed);
    ok(res, outcome.mailProblem ? { notification: outcome.mailProblem } : undefined);
  };
}
