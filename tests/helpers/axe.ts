/**
 * axe-core in a Playwright page: the page's serious and critical violations (WCAG 2.x A/AA and best
 * practice rules). The script is injected from node_modules, never fetched; the page's context must be
 * created with `bypassCSP: true` (the portal's CSP allows no script, rightly).
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { repoPath } from './repo.ts';

export interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  /** CSS selectors of the offending elements, with axe's summary of what is wrong */
  nodes: { target: string; summary: string }[];
}

let source: string | undefined;

/** Runs axe on the page as it is now; returns only serious and critical violations. */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  source ??= readFileSync(repoPath('node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.addScriptTag({ content: source });
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[]; failureSummary?: string }[] }[] }> } }).axe;
    const result = await axe.run((globalThis as unknown as { document: unknown }).document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact ?? '',
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.map(String).join(' '), summary: n.failureSummary ?? '' })),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** One line per violation, for an assertion message. */
export function describeViolations(violations: readonly AxeViolation[]): string {
  return violations.map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => `${n.target} (${n.summary.replace(/\s+/g, ' ')})`).join('; ')}`).join('\n');
}
