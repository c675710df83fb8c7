// WCAG AA (4.5:1 for text) for every text/background pair the portal's stylesheet uses, in its light and
// dark themes. The dark Sign-in button (white on #6ea0ff, 2.6:1) was the failure this caught.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { contrastRatio, itHasAaContrast } from '../../helpers/css-contrast.ts';

const CSS = fileURLToPath(new URL('../../../gateway/portal/static/portal.css', import.meta.url));

/** [text, background, where] */
const PAIRS = [
  ['--text', '--card', 'body text'],
  ['--muted', '--card', 'notices, dates, badges'],
  ['--accent', '--card', 'links and secondary buttons'],
  ['--on-accent', '--accent', 'the Sign-in (primary) button'],
  ['--error', '--card', 'error messages'],
  ['--ok', '--ok-soft', 'the Configured / This device badge'],
  ['--warn', '--warn-soft', 'the few-recovery-codes warning'],
] as const;

describe('portal stylesheet: WCAG AA contrast in both themes', () => {
  itHasAaContrast(CSS, PAIRS);

  it('the helper measures what WCAG says: black on white 21:1, white on #6ea0ff below 4.5:1', () => {
    assert.equal(Math.round(contrastRatio('#000', '#fff')), 21);
    assert.ok(contrastRatio('#ffffff', '#6ea0ff') < 4.5);
  });
});
