/**
 * Recovery codes, Gatehouse's own endpoints in Authelia's style: how many are left, a new set (shown
 * once; the old set stops working in the same transaction) and signing in with one in place of a
 * second factor.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { UserDetails } from '../users/provider.ts';
import { generateRecoveryCodes, RECOVERY_CODES_LOW } from '../secondfactor/recovery-codes.ts';
import { NotifierError } from '../notification/notifier.ts';
import { sendAccountMail } from './account-mail.ts';
import { requestIp, type PortalDeps } from './deps.ts';
import { signedInUser } from './guards.ts';
import { checkSecondFactorCode } from './second-factor-check.ts';
import { ko, ok } from './api.ts';
import { answerCodeCheck, MFA_FAILED } from './totp-api.ts';

/**
 * Replaces the user's recovery codes with a new set and returns it (the only time the codes are seen).
 * The user is mailed about it, as for a device added: a session taken over could otherwise mint a
 * silent way past the second factor. A notice that could not be sent is audited and does not undo it.
 */
export async function regenerateRecoveryCodes(deps: Pick<PortalDeps, 'storage' | 'now' | 'audit' | 'isTrustedProxy' | 'notifier' | 'logger'>, req: Request, user: UserDetails): Promise<string[]> {
  const codes = generateRecoveryCodes();
  await deps.storage.recoveryCodes.replace(user.username, codes, deps.now());
  deps.audit.account({ rhost: requestIp(req, deps), user: user.username, what: 'recovery codes generated', detail: `${codes.length} codes; any earlier set no longer works` });
  await sendAccountMail(deps, req, user, { kind: 'recovery_codes' }).catch((error: unknown) => {
    if (!(error instanceof NotifierError)) throw error;
    deps.logger.warn({ user: user.username }, 'second factor: the new-recovery-codes notice was not sent');
  });
  return codes;
}

/** GET /api/secondfactor/recovery-codes: `{remaining, low}`. */
export function recoveryCodesCountHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const remaining = await deps.storage.recoveryCodes.remaining(signedInUser(req).username);
    ok(res, { remaining, low: remaining <= RECOVERY_CODES_LOW });
  };
}

/** PUT /api/secondfactor/recovery-codes: a new set of codes. */
export function recoveryCodesGenerateHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const codes = await regenerateRecoveryCodes(deps, req, signedInUser(req));
    ok(res, { codes, remaining: codes.length });
  };
}

const signBody = z.object({ code: z.string().min(1).max(64), targetURL: z.string().max(4096).optional() });

/** POST /api/secondfactor/recovery-code: one code in place of a second factor (used up). */
export function recoveryCodeSignHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const parsed = signBody.safeParse(req.body);
    if (!parsed.success) return ko(res, 400, MFA_FAILED);
    const user = signedInUser(req);
    const outcome = await checkSecondFactorCode(deps, req, user, 'recovery_code', parsed.data.code, { uri: parsed.data.targetURL ?? '', method: 'GET' });
    const remaining = outcome.ok ? await deps.storage.recoveryCodes.remaining(user.username) : 0;
    answerCodeCheck(deps, req, res, outcome, parsed.data.targetURL, outcome.ok ? { remaining, low: remaining <= RECOVERY_CODES_LOW } : {});
  };
}
