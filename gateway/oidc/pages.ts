/**
 * The pages oidc-provider shows itself (the logout question, "signed out", an error), rendered with the
 * portal's templates and catalogues in the request's language. What a user reads about an error is
 * written for them; the provider's own description goes to the log only.
 */
import type { Request } from 'express';
import type { Eta } from 'eta';
import type { Logger } from 'pino';
import { requestLanguage, translator } from '../portal/i18n.ts';
import type { KoaContext, OidcPages } from './provider.ts';

export function oidcPages(eta: Eta, portalPath: string, logger: Logger): OidcPages {
  const base = portalPath.endsWith('/') ? portalPath : `${portalPath}/`;
  const page = (ctx: KoaContext, template: string, data: Record<string, unknown>) => {
    const lang = requestLanguage(ctx.req as Request);
    ctx.type = 'html';
    ctx.body = eta.render(template, { base, lang, t: translator(lang), languageLinks: [], ...data });
  };
  return {
    logout(ctx, form) {
      page(ctx, 'oidc-logout', { form, clientName: ctx.oidc?.client?.clientName ?? '' });
    },
    loggedOut(ctx) {
      const t = translator(requestLanguage(ctx.req as Request));
      page(ctx, 'message', { title: t('oidc_logged_out_title'), message: t('oidc_logged_out_message') });
    },
    error(ctx, out) {
      logger.info({ error: out.error, description: out.error_description }, 'oidc: request refused');
      const t = translator(requestLanguage(ctx.req as Request));
      page(ctx, 'message', { title: t('oidc_error_title'), message: t('oidc_error_message', { error: out.error }), alert: true });
    },
  };
}
