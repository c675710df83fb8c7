/**
 * A configuration problem as data: where it is, what is wrong, and whether it stops the start. The
 * validators of both services return these; the loader filters them by path; one function turns each
 * into the line the operator reads, `config: <path>: <message>`, errors and warnings alike.
 */
import { withoutUserInfo } from './net/user-info.ts';

export type Severity = 'error' | 'warning';

export interface ConfigProblem {
  /**
   * Where: an option (`access_control.rules[2].domain`, lists counted from 0, a map's key as it is
   * written), a configuration file's path, or an environment variable's name.
   */
  readonly path: string;
  /** What is wrong and what is allowed, written to follow `<path>: `. */
  readonly message: string;
  /** An error stops the start; a warning is said at every start and by `config validate`. */
  readonly severity: Severity;
}

/** The longest value a message repeats whole, in characters: a pasted key or certificate is cut. */
const SHOWN_VALUE_MAX = 64;

/**
 * A value the operator wrote, as a message may repeat it: the user info of a URL blanked
 * (`https://***@auth.example.com/`) and a long value cut with `…`. Never give it a secret option's value.
 */
export function shownValue(value: string): string {
  const chars = [...withoutUserInfo(value)];
  return chars.length <= SHOWN_VALUE_MAX ? chars.join('') : `${chars.slice(0, SHOWN_VALUE_MAX - 1).join('')}…`;
}

/** A problem that stops the start. */
export function configError(path: string, message: string): ConfigProblem {
  return { path, message, severity: 'error' };
}

/** A setting that loads but is weaker than the default or ignored. */
export function configWarning(path: string, message: string): ConfigProblem {
  return { path, message, severity: 'warning' };
}

/** The one rendering of a problem, for stderr and for the log. */
export function renderProblem(problem: ConfigProblem): string {
  return `config: ${problem.path}: ${problem.message}`;
}

export function errorsIn(problems: readonly ConfigProblem[]): ConfigProblem[] {
  return problems.filter((problem) => problem.severity === 'error');
}

export function warningsIn(problems: readonly ConfigProblem[]): ConfigProblem[] {
  return problems.filter((problem) => problem.severity === 'warning');
}

/** `a.b[0].c` for `['a', 'b', 0, 'c']`; `(root)` for the whole configuration. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

/** Whether the option at `inner` is `outer` or inside it (`session.cookies[1].domain` is inside `session.cookies`). */
export function pathWithin(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(`${outer}.`) || inner.startsWith(`${outer}[`);
}
