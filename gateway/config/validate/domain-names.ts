/** Host and cookie-domain names as the gateway's options write them. */

/** A lower-case DNS name: labels of letters, digits and '-', at most 253 characters. */
export const DOMAIN_RE = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Whether `host` is the cookie domain `domain` or below it. */
export function hostWithinDomain(host: string, domain: string): boolean {
  const h = host.toLowerCase();
  return h === domain || h.endsWith(`.${domain}`);
}
