/**
 * WCAG 2.x contrast of a stylesheet's colour variables: the light theme is the first `:root` block, the
 * dark theme that block overridden by the `:root` inside `@media (prefers-color-scheme: dark)`.
 * Colours are written as #rgb or #rrggbb (a test fails on anything else rather than guess).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';

export type Theme = Readonly<Record<string, string>>;

function declarations(block: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const match of block.matchAll(/(--[\w-]+)\s*:\s*([^;]+);/g)) vars[match[1]!] = match[2]!.trim();
  return vars;
}

/** The custom properties of both themes of the stylesheet at `path`. */
export function themes(path: string): { light: Theme; dark: Theme } {
  const css = readFileSync(path, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const darkAt = css.indexOf('@media (prefers-color-scheme: dark)');
  if (darkAt === -1) throw new Error(`${path}: no dark theme`);
  const lightRoot = /:root\s*\{([^}]*)\}/.exec(css.slice(0, darkAt));
  const darkRoot = /:root\s*\{([^}]*)\}/.exec(css.slice(darkAt));
  if (!lightRoot || !darkRoot) throw new Error(`${path}: no :root block in each theme`);
  const light = declarations(lightRoot[1]!);
  return { light, dark: { ...light, ...declarations(darkRoot[1]!) } };
}

function channel(value: number): number {
  const c = value / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

function luminance(colour: string): number {
  let hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(colour)?.[1];
  if (!hex) throw new Error(`not a #rgb or #rrggbb colour: ${colour}`);
  if (hex.length === 3) hex = [...hex].map((c) => c + c).join('');
  const [r, g, b] = [0, 2, 4].map((i) => channel(parseInt(hex!.slice(i, i + 2), 16)));
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

/** (L1 + 0.05) / (L2 + 0.05), lighter over darker: 1 to 21. */
export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

/** The value of `name` in `theme`, following `var(--other)` once. */
export function colour(theme: Theme, name: string): string {
  const value = theme[name];
  if (value === undefined) throw new Error(`no ${name}`);
  const ref = /^var\((--[\w-]+)\)$/.exec(value);
  return ref ? colour(theme, ref[1]!) : value;
}

/** One test per theme and [text, background, where] pair of `path`: at least WCAG AA's 4.5:1. */
export function itHasAaContrast(path: string, pairs: readonly (readonly [string, string, string])[]): void {
  for (const [name, theme] of Object.entries(themes(path))) {
    for (const [text, background, where] of pairs) {
      it(`${name}: ${where} (${text} on ${background}) is at least 4.5:1`, () => {
        const ratio = contrastRatio(colour(theme, text), colour(theme, background));
        assert.ok(ratio >= 4.5, `${ratio.toFixed(2)}:1`);
      });
    }
  }
}
