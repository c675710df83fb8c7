/**
 * Which second factors exist and which a user has: what /api/configuration, /api/user/info and the
 * second-factor step read. The method shown first is the user's preference, else `default_2fa_method`,
 * else the first one they have, else the first one enabled (Authelia's order).
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { RECOVERY_CODES_LOW } from '../secondfactor/recovery-codes.ts';
import type { PortalDeps } from './deps.ts';
import { signedInUser } from './guards.ts';
import { ko, ok } from './api.ts';

export type SecondFactorMethod = 'totp' | 'webauthn';

export function availableMethods(settings: PortalDeps['secondFactor']): SecondFactorMethod[] {
  return [...(settings.totp.disable ? [] : ['totp' as const]), ...(settings.webauthn.disable ? [] : ['webauthn' as const])];
}

export interface UserMethods {
  hasTotp: boolean;
  hasWebauthn: boolean;
  recoveryCodes: number;
  /** The method to offer first ('' when none is enabled). */
  method: SecondFactorMethod | '';
}

export async function userMethods(deps: Pick<PortalDeps, 'storage' | 'secondFactor'>, username: string): Promise<UserMethods> {
  const available = availableMethods(deps.secondFactor);
  const [totp, credentials, recoveryCodes, preferred] = await Promise.all([
    deps.storage.totp.load(username),
    deps.storage.webauthn.list(username),
    deps.storage.recoveryCodes.remaining(username),
    deps.storage.preferences.getSecondFactorMethod(username),
  ]);
  const hasTotp = totp !== undefined && available.includes('totp');
  const hasWebauthn = credentials.length > 0 && available.includes('webauthn');
  const isAvailable = (m: string | undefined): m is SecondFactorMethod => m !== undefined && (available as string[]).includes(m);
  const had = [...(hasTotp ? ['totp' as const] : []), ...(hasWebauthn ? ['webauthn' as const] : [])];
  const method = isAvailable(preferred) ? preferred : isAvailable(deps.secondFactor.defaultMethod) ? deps.secondFactor.defaultMethod : (had[0] ?? available[0] ?? '');
  return { hasTotp, hasWebauthn, recoveryCodes, method };
}

/** GET /api/user/info (Authelia's UserInfo; `recovery_codes` is Gatehouse's). */
export function userInfoHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const identity = signedInUser(req);
    const methods = await userMethods(deps, identity.username);
    ok(res, {
      display_name: identity.displayName,
      emails: identity.emails,
      groups: identity.groups,
      method: methods.method,
      has_totp: methods.hasTotp,
      has_webauthn: methods.hasWebauthn,
      has_duo: false,
      recovery_codes: { remaining: methods.recoveryCodes, low: methods.recoveryCodes <= RECOVERY_CODES_LOW },
    });
  };
}

const methodBody = z.object({ method: z.string().max(32) });

/** POST /api/user/info/2fa_method: the method the second-factor step offers first. */
export function methodPreferenceHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const parsed = methodBody.safeParse(req.body);
    const available = availableMethods(deps.secondFactor);
    if (!parsed.success || !(available as string[]).includes(parsed.data.method)) {
      return ko(res, 400, `Unknown or unavailable method '${parsed.success ? parsed.data.method : ''}', it should be one of ${available.join(', ')}.`);
    }
    await deps.storage.preferences.setSecondFactorMethod(signedInUser(req).username, parsed.data.method);
    ok(res);
  };
}

/** GET /api/configuration */
export function configurationHandler(deps: PortalDeps) {
  return (_req: Request, res: Response) =>
    ok(res, {
      available_methods: availableMethods(deps.secondFactor),
      password_change_disabled: deps.secondFactor.passwordChangeDisabled,
      password_reset_disabled: deps.secondFactor.passwordResetDisabled,
    });
}
