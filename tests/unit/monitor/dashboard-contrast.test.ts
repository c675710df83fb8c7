// WCAG AA (4.5:1 for text) for the dashboard's text/background pairs in light and dark themes: the
// selected tab (accent on the page, 4.2:1 before) and the Active badge (green on pale green, 4.46:1).
import { describe } from 'node:test';
import { fileURLToPath } from 'node:url';
import { itHasAaContrast } from '../../helpers/css-contrast.ts';

const CSS = fileURLToPath(new URL('../../../monitor/web/app.css', import.meta.url));

/** [text, background, where] */
const PAIRS = [
  ['--accent-strong', '--bg', 'the selected tab'],
  ['--accent-strong', '--surface-2', 'the selected tab under the pointer'],
  ['--ok', '--ok-soft', 'the Active badge'],
  ['--danger', '--danger-soft', 'a Revoked / Expired badge'],
  ['--muted', '--surface-2', 'a neutral badge'],
  ['--accent-text', '--accent', 'primary buttons'],
  ['--text', '--surface', 'body text'],
  ['--muted', '--surface', 'secondary text'],
] as const;

describe('dashboard stylesheet: WCAG AA contrast in both themes', () => {
  itHasAaContrast(CSS, PAIRS);
});
