/**
 * Keeps `access_control` regexes from stalling the event loop on a crafted request.
 *
 * Authelia runs them on Go's RE2 (linear time); V8's default engine backtracks, and a pattern
 * such as `^/api/(\w+/?)*$` takes exponential time on `/api/aaaa…!`. V8 also has a linear-time
 * engine (the `l` flag), but it is 30-60 times slower per match on ordinary patterns and lacks
 * the `i` and `u` flags. So each pattern is sorted:
 *
 * - simple (no repeated group holding a quantifier or `|`, and at most one unbounded quantifier,
 *   then only when the pattern is anchored with `^`): the backtracking engine, whose cost on
 *   these is linear (one unbounded quantifier after `^` backtracks at most once through the input);
 * - otherwise: the linear engine. The pattern is rewritten for it (no `u` flag; case-insensitivity,
 *   of the whole pattern or of a `(?i:…)` group, spelled out as `[aA]`; `(?m:…)` is refused), which matches exactly as before on the ASCII hosts and canonical paths
 *   the rules see, for patterns without `\p{…}` or characters beyond U+FFFF and, when
 *   case-insensitive, with ASCII characters only. A pattern that needs the linear engine and
 *   cannot be rewritten (or that V8 refuses, e.g. a counted repetition above 16) is refused.
 *
 * Backreferences and lookaround are refused everywhere, as RE2 (hence Authelia) refuses them.
 */
import { setFlagsFromString } from 'node:v8';
import { GatehouseError, InternalError } from '../../lib/errors.ts';

/**
 * V8 keeps its linear engine behind this flag. The flag changes the whole process, so it is set in
 * plain sight at startup (bin/gatehouse.ts, and startGateway for a gateway built in-process), never
 * as a side effect of importing this module.
 */
export const LINEAR_ENGINE_FLAG = '--enable-experimental-regexp-engine';

/** Turns V8's linear engine on for this process; call before compiling access_control patterns. */
export function enableLinearEngine(): void {
  setFlagsFromString(LINEAR_ENGINE_FLAG);
}

/** Whether this V8 runs the `l` flag now (Node 24 does once LINEAR_ENGINE_FLAG is set). */
export function linearEngineAvailable(): boolean {
  try {
    new RegExp('a', 'l');
    return true;
  } catch {
    return false;
  }
}

export type NotLinearReason =
  /** backreference or lookaround: not RE2 syntax, never linear */
  | 'backreference_or_lookaround'
  /** needs the linear engine but uses something it cannot run */
  | 'unsupported_by_linear_engine';

/** Thrown by `compileSafeRegex`; the message is the reason in words, without the pattern. */
export class NotLinearRegexError extends GatehouseError {
  declare readonly code: 'regex_not_linear';
  readonly reason: NotLinearReason;
  constructor(reason: NotLinearReason, detail: string) {
    super('regex_not_linear', detail);
    this.reason = reason;
  }
}

// ---------------------------------------------------------------------------------------------------
// A parser for patterns V8 already accepted with the `u` flag (so the syntax is the strict one).

interface Quantifier { min: number; max: number; src: string }

type ClassItem =
  | { kind: 'cp'; cp: number }
  | { kind: 'range'; lo: number; hi: number }
  | { kind: 'escape'; src: string };

type Atom =
  | { kind: 'assertion'; src: string }
  | { kind: 'cp'; cp: number }
  | { kind: 'escape'; src: string }
  | { kind: 'dot' }
  | { kind: 'class'; negated: boolean; items: ClassItem[] }
  /** `ci`: a modifier group `(?i:…)`/`(?-i:…)` sets case-insensitivity inside; `multiline`: it uses `m` */
  | { kind: 'group'; open: string; body: Term[][]; ci?: boolean; multiline?: boolean }
  | { kind: 'unsupported'; what: string }
  | { kind: 'forbidden'; what: string };

interface Term { atom: Atom; quantifier?: Quantifier }

const CONTROL_ESCAPES: Record<string, number> = { f: 12, n: 10, r: 13, t: 9, v: 11 };

class Parser {
  readonly src: string;
  pos = 0;
  constructor(src: string) {
    this.src = src;
  }

  peek(offset = 0): string {
    return this.src[this.pos + offset] ?? '';
  }

  disjunction(): Term[][] {
    const branches: Term[][] = [[]];
    while (this.pos < this.src.length && this.peek() !== ')') {
      if (this.peek() === '|') {
        this.pos++;
        branches.push([]);
        continue;
      }
      const atom = this.atom();
      const quantifier = this.quantifier();
      branches[branches.length - 1]!.push(quantifier === undefined ? { atom } : { atom, quantifier });
    }
    return branches;
  }

  quantifier(): Quantifier | undefined {
    const start = this.pos;
    const c = this.peek();
    let min: number;
    let max: number;
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos));
      if (m === null) return undefined;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      this.pos += m[0].length - 1;
    } else return undefined;
    this.pos++;
    if (this.peek() === '?') this.pos++; // lazy: same cost class
    return { min, max, src: this.src.slice(start, this.pos) };
  }

  atom(): Atom {
    const c = this.peek();
    if (c === '^' || c === '$') {
      this.pos++;
      return { kind: 'assertion', src: c };
    }
    if (c === '.') {
      this.pos++;
      return { kind: 'dot' };
    }
    if (c === '[') return this.characterClass();
    if (c === '(') return this.group();
    if (c === '\\') return this.atomEscape();
    const cp = this.src.codePointAt(this.pos)!;
    this.pos += cp > 0xffff ? 2 : 1;
    return { kind: 'cp', cp };
  }

  group(): Atom {
    const rest = this.src.slice(this.pos);
    let open: string;
    if (rest.startsWith('(?:')) open = '(?:';
    else if (/^\(\?<?[=!]/.test(rest)) {
      open = /^\(\?<?[=!]/.exec(rest)![0];
      this.pos += open.length;
      this.disjunction();
      this.pos++; // ')'
      return { kind: 'forbidden', what: 'lookaround' };
    } else if (rest.startsWith('(?<')) open = /^\(\?<[^>]*>/.exec(rest)![0];
    else if (rest.startsWith('(?')) {
      // (?ims-ims:…) modifiers: `i` is spelled out by the rewrite, `m` and `s` are not modelled
      const m = /^\(\?([a-z]*)(?:-([a-z]*))?:/.exec(rest);
      open = m?.[0] ?? '(?';
      this.pos += open.length;
      const body = this.disjunction();
      this.pos++;
      const on = m?.[1] ?? '';
      const off = m?.[2] ?? '';
      if (m === null || /[^im]/.test(on + off)) return { kind: 'unsupported', what: 'inline flags other than i and m' };
      const group: Atom = { kind: 'group', open: '(?:', body, multiline: /m/.test(on + off) };
      if (on.includes('i')) group.ci = true;
      else if (off.includes('i')) group.ci = false;
      return group;
    } else open = '(';
    this.pos += open.length;
    const body = this.disjunction();
    this.pos++; // ')'
    return { kind: 'group', open, body };
  }

  atomEscape(): Atom {
    const next = this.peek(1);
    if (next === 'b' || next === 'B') {
      this.pos += 2;
      return { kind: 'assertion', src: `\\${next}` };
    }
    if (/[1-9]/.test(next)) {
      this.pos += 1 + /^\d+/.exec(this.src.slice(this.pos + 1))![0].length;
      return { kind: 'forbidden', what: 'backreference' };
    }
    if (next === 'k') {
      this.pos += /^\\k<[^>]*>/.exec(this.src.slice(this.pos))![0].length;
      return { kind: 'forbidden', what: 'backreference' };
    }
    const item = this.classEscape(false);
    if (item.kind === 'cp') return { kind: 'cp', cp: item.cp };
    if (item.kind !== 'escape') return { kind: 'unsupported', what: 'this escape' };
    const property = item.src.startsWith('\\p') || item.src.startsWith('\\P');
    return property ? { kind: 'unsupported', what: 'Unicode property escapes (\\p{…})' } : { kind: 'escape', src: item.src };
  }

  /** An escape inside or outside a class, the backslash at pos. */
  classEscape(inClass: boolean): ClassItem {
    const next = this.peek(1);
    const rest = this.src.slice(this.pos);
    if (/[dDsSwW]/.test(next)) {
      this.pos += 2;
      return { kind: 'escape', src: `\\${next}` };
    }
    if (next === 'p' || next === 'P') {
      const m = /^\\[pP]\{[^}]*\}/.exec(rest)!;
      this.pos += m[0].length;
      return { kind: 'escape', src: m[0] };
    }
    if (inClass && next === 'b') {
      this.pos += 2;
      return { kind: 'cp', cp: 8 };
    }
    if (next in CONTROL_ESCAPES) {
      this.pos += 2;
      return { kind: 'cp', cp: CONTROL_ESCAPES[next]! };
    }
    if (next === 'c') {
      this.pos += 3;
      return { kind: 'cp', cp: this.src.charCodeAt(this.pos - 1) % 32 };
    }
    if (next === '0') {
      this.pos += 2;
      return { kind: 'cp', cp: 0 };
    }
    if (next === 'x') {
      this.pos += 4;
      return { kind: 'cp', cp: parseInt(rest.slice(2, 4), 16) };
    }
    if (next === 'u') {
      const braced = /^\\u\{([0-9a-fA-F]+)\}/.exec(rest);
      if (braced) {
        this.pos += braced[0].length;
        return { kind: 'cp', cp: parseInt(braced[1]!, 16) };
      }
      const pair = /^\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})/.exec(rest);
      if (pair) {
        this.pos += 12;
        return { kind: 'cp', cp: 0x10000 + ((parseInt(pair[1]!, 16) - 0xd800) << 10) + (parseInt(pair[2]!, 16) - 0xdc00) };
      }
      this.pos += 6;
      return { kind: 'cp', cp: parseInt(rest.slice(2, 6), 16) };
    }
    // identity escape of a syntax character, '/' or (in a class) '-'
    const cp = this.src.codePointAt(this.pos + 1)!;
    this.pos += cp > 0xffff ? 3 : 2;
    return { kind: 'cp', cp };
  }

  characterClass(): Atom {
    this.pos++; // '['
    const negated = this.peek() === '^';
    if (negated) this.pos++;
    const items: ClassItem[] = [];
    while (this.peek() !== ']') {
      const lo = this.classAtom();
      if (this.peek() === '-' && this.peek(1) !== ']' && lo.kind === 'cp') {
        this.pos++;
        const hi = this.classAtom();
        items.push(hi.kind === 'cp' ? { kind: 'range', lo: lo.cp, hi: hi.cp } : hi);
      } else items.push(lo);
    }
    this.pos++; // ']'
    return { kind: 'class', negated, items };
  }

  classAtom(): ClassItem {
    if (this.peek() === '\\') return this.classEscape(true);
    const cp = this.src.codePointAt(this.pos)!;
    this.pos += cp > 0xffff ? 2 : 1;
    return { kind: 'cp', cp };
  }
}

// ---------------------------------------------------------------------------------------------------
// Cost class

interface Shape { unbounded: number; nested: boolean }

function shapeOf(branches: Term[][], insideRepeat: boolean): Shape {
  const shape: Shape = { unbounded: 0, nested: false };
  if (insideRepeat && branches.length > 1) shape.nested = true; // (a|ab)* …
  for (const branch of branches) {
    for (const term of branch) {
      const q = term.quantifier;
      // a wide counted range backtracks like an unbounded one
      if (q !== undefined && (q.max === Infinity || q.max - q.min > 100)) shape.unbounded++;
      if (insideRepeat && q !== undefined && q.max > 1) shape.nested = true; // (a+)* …
      if (term.atom.kind === 'group') {
        const inner = shapeOf(term.atom.body, insideRepeat || (q !== undefined && q.max > 1));
        shape.unbounded += inner.unbounded;
        shape.nested ||= inner.nested;
      }
    }
  }
  return shape;
}

function anchoredAtStart(branches: Term[][]): boolean {
  if (branches.length !== 1) return false;
  const first = branches[0]![0]?.atom;
  return first?.kind === 'assertion' && first.src === '^';
}

/** True when the backtracking engine's cost on this pattern is linear in the input. */
function simpleEnough(branches: Term[][]): boolean {
  const { unbounded, nested } = shapeOf(branches, false);
  return !nested && (unbounded === 0 || (unbounded === 1 && anchoredAtStart(branches)));
}

// ---------------------------------------------------------------------------------------------------
// Rewrite for the linear engine (no `u`, no `i`)

/** What the linear engine cannot run: refused as it is met, deep in the rewrite. */
function untranslatable(what: string): NotLinearRegexError {
  return new NotLinearRegexError('unsupported_by_linear_engine', what);
}

function hex4(cp: number): string {
  return `\\u${cp.toString(16).padStart(4, '0')}`;
}

function isAsciiLetter(cp: number): boolean {
  return (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a);
}

function checkCp(cp: number, caseInsensitive: boolean): void {
  if (cp > 0xffff) throw untranslatable('characters outside the Basic Multilingual Plane');
  if (caseInsensitive && cp > 0x7f) throw untranslatable('non-ASCII characters in a case-insensitive pattern');
}

function cpSource(cp: number): string {
  return /[0-9A-Za-z_]/.test(String.fromCharCode(cp)) ? String.fromCharCode(cp) : hex4(cp);
}

/** [lo, hi] ∩ [from, to], shifted by delta, as class text (empty when disjoint). */
function shiftedPart(lo: number, hi: number, from: number, to: number, delta: number): string {
  const a = Math.max(lo, from);
  const b = Math.min(hi, to);
  return a > b ? '' : `${hex4(a + delta)}-${hex4(b + delta)}`;
}

function classItemSource(item: ClassItem, caseInsensitive: boolean): string {
  if (item.kind === 'escape') {
    if (item.src.startsWith('\\p') || item.src.startsWith('\\P')) throw untranslatable('Unicode property escapes (\\p{…})');
    return item.src;
  }
  if (item.kind === 'cp') {
    checkCp(item.cp, caseInsensitive);
    const own = hex4(item.cp);
    return caseInsensitive && isAsciiLetter(item.cp) ? own + hex4(item.cp ^ 0x20) : own;
  }
  // a range running from the BMP (below the surrogates) to U+10FFFF, as a negated POSIX class becomes:
  // without `u`, its astral part is the surrogate code units, which the clamped range still holds
  const hi = item.hi === 0x10ffff && item.lo <= 0xd800 && !caseInsensitive ? 0xffff : item.hi;
  checkCp(item.lo, caseInsensitive);
  checkCp(hi, caseInsensitive);
  let text = `${hex4(item.lo)}-${hex4(hi)}`;
  if (caseInsensitive) {
    text += shiftedPart(item.lo, item.hi, 0x41, 0x5a, 0x20) + shiftedPart(item.lo, item.hi, 0x61, 0x7a, -0x20);
  }
  return text;
}

function termsSource(branches: Term[][], caseInsensitive: boolean): string {
  return branches.map((branch) => branch.map((term) => atomSource(term.atom, caseInsensitive) + (term.quantifier?.src ?? '')).join('')).join('|');
}

function atomSource(atom: Atom, caseInsensitive: boolean): string {
  switch (atom.kind) {
    case 'assertion':
    case 'escape':
      return atom.src;
    case 'dot':
      return '.';
    case 'cp':
      checkCp(atom.cp, caseInsensitive);
      return caseInsensitive && isAsciiLetter(atom.cp) ? `[${String.fromCharCode(atom.cp)}${String.fromCharCode(atom.cp ^ 0x20)}]` : cpSource(atom.cp);
    case 'class':
      return `[${atom.negated ? '^' : ''}${atom.items.map((item) => classItemSource(item, caseInsensitive)).join('')}]`;
    case 'group':
      if (atom.multiline === true) throw untranslatable('multi-line mode ((?m))');
      return `${atom.open}${termsSource(atom.body, atom.ci ?? caseInsensitive)})`;
    case 'unsupported':
      throw untranslatable(atom.what);
    case 'forbidden':
      throw new InternalError('internal_error', 'unreachable: forbidden constructs are refused before the rewrite');
  }
}

function findForbidden(branches: Term[][]): string | null {
  for (const branch of branches) {
    for (const { atom } of branch) {
      if (atom.kind === 'forbidden') return atom.what;
      if (atom.kind === 'group') {
        const inner = findForbidden(atom.body);
        if (inner !== null) return inner;
      }
    }
  }
  return null;
}

/**
 * The pattern as the linear engine runs it (flags: `l` only); throws `NotLinearRegexError` when it
 * cannot be rewritten. Exported for tests, which check it matches what the original does.
 */
export function linearSource(source: string, caseInsensitive: boolean): string {
  const tree = new Parser(source).disjunction();
  const forbidden = findForbidden(tree);
  if (forbidden !== null) throw new NotLinearRegexError('backreference_or_lookaround', `uses a ${forbidden}`);
  return termsSource(tree, caseInsensitive);
}

/**
 * Compiles `source` (valid with the `u` flag) for matching untrusted input: on the backtracking
 * engine when that is safe, else on the linear engine; throws `NotLinearRegexError` when neither
 * is (see the module comment), or V8's SyntaxError for an invalid pattern.
 */
export function compileSafeRegex(source: string, caseInsensitive: boolean): RegExp {
  const flags = caseInsensitive ? 'iu' : 'u';
  const backtracking = new RegExp(source, flags); // syntax errors surface here, as before
  const tree = new Parser(source).disjunction();
  const forbidden = findForbidden(tree);
  if (forbidden !== null) throw new NotLinearRegexError('backreference_or_lookaround', `uses a ${forbidden}`);
  if (simpleEnough(tree)) return backtracking;
  const rewritten = linearSource(source, caseInsensitive);
  if (!linearEngineAvailable()) throw new NotLinearRegexError('unsupported_by_linear_engine', `this process (${LINEAR_ENGINE_FLAG} was not set at startup)`);
  try {
    return new RegExp(rewritten, 'l');
  } catch {
    throw new NotLinearRegexError('unsupported_by_linear_engine', 'counted repetitions that large (V8 allows about 16 copies)');
  }
}

/** For tests and diagnostics: which engine a compiled pattern runs on. */
export function runsInLinearTime(re: RegExp): boolean {
  return re.flags.includes('l');
}
