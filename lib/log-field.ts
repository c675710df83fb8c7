/**
 * A value that goes inside one audit line (`rhost=… user=… reason=…`): no spaces, `=`, `;`, control or
 * invisible format characters an attacker could use to forge another field or line; bounded; never empty.
 */
export function logField(value: string | null | undefined): string {
  const clean = (value ?? '').replace(/[\s\p{Cc}\p{Cf}=;]/gu, '_').slice(0, 128);
  return clean === '' ? '-' : clean;
}
