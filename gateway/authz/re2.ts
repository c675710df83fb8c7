/**
 * Go (RE2) regular expressions, as Authelia users write them in `domain_regex`, `resources` and query
 * `pattern` values, rewritten into JavaScript (`u` flag) syntax that matches the same strings.
 *
 * Translated: escaped punctuation (`\-`, `\#`, `\@`…), `\a`, octal escapes, `\x{…}`, `\Q…\E`, `\A`,
 * `\z`, `\s`/`\S` (RE2's ASCII set), `\pL`/`\p{Greek}`/`\p{^Greek}`, `(?P<name>…)`, POSIX classes
 * (`[[:alpha:]]`, `[[:^digit:]]`), a `]` first in a class, a `{` that is not a repetition, `.` (which
 * in RE2 excludes only `\n`), and the flags `i`, `m`, `s`, `U` wherever RE2 allows them: at the
 * start, in the middle (to the end of the enclosing group, across `|`), or scoped `(?i:…)`.
 * `i` and `m` become V8's pattern modifiers `(?i:…)`, `s` rewrites `.`, `U` swaps greedy and lazy.
 *
 * Refused (`Re2UntranslatableError`): `\C` (a single byte), `\Q…\E` inside a class, and escapes or
 * POSIX classes RE2 does not have. Backreferences and lookaround (not RE2 either) are passed through
 * for `compileSafeRegex` to refuse. The linear-time guarantee is kept by
 * the caller, which compiles the result with `compileSafeRegex`.
 */
import { GatehouseError } from '../../lib/errors.ts';

/** The pattern uses something with no JavaScript equivalent; the message says what, without the pattern. */
export class Re2UntranslatableError extends GatehouseError {
  declare readonly code: 'config_invalid';
  constructor(what: string) {
    super('config_invalid', what);
  }
}

export interface Translated {
  /** JavaScript source for the `u` flag (plus `i` when `caseInsensitive`). */
  source: string;
  caseInsensitive: boolean;
}

interface Flags { i: boolean; m: boolean; s: boolean; U: boolean }

interface Frame {
  /** Flags in force when the group opened (restored at its `)`). */
  start: Flags;
  /** Flags in force now, changed by `(?i)` inside the group. */
  now: Flags;
  /** Whether a modifier wrapper opened for a mid-group flag change is still open. */
  wrapped: boolean;
}

type Range = [number, number];

const MAX_CP = 0x10ffff;

const POSIX: Record<string, Range[]> = {
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]],
  alpha: [[0x41, 0x5a], [0x61, 0x7a]],
  ascii: [[0x00, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  upper: [[0x41, 0x5a]],
  word: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
};

/** RE2's `\s`: `[\t\n\f\r ]` (no `\v`, nothing beyond ASCII, unlike JavaScript's). */
const PERL_SPACE: Range[] = [[0x09, 0x0a], [0x0c, 0x0d], [0x20, 0x20]];

/** Characters JavaScript lets a backslash escape in `u` mode. */
const JS_SYNTAX = new Set('^$\\.*+?()[]{}|/');

function complement(ranges: Range[]): Range[] {
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of [...ranges].sort((a, b) => a[0] - b[0])) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= MAX_CP) out.push([next, MAX_CP]);
  return out;
}

function cpText(cp: number): string {
  if (/[0-9A-Za-z_]/.test(String.fromCodePoint(cp))) return String.fromCodePoint(cp);
  return `\\u{${cp.toString(16)}}`;
}

function rangesText(ranges: Range[]): string {
  return ranges.map(([lo, hi]) => (lo === hi ? cpText(lo) : `${cpText(lo)}-${cpText(hi)}`)).join('');
}

function modifierText(from: Flags, to: Flags): string {
  let on = '';
  let off = '';
  for (const f of ['i', 'm'] as const) {
    if (to[f] && !from[f]) on += f;
    if (!to[f] && from[f]) off += f;
  }
  return on === '' && off === '' ? '' : `(?${on}${off === '' ? '' : '-' + off}:`;
}

/** A Unicode class name as RE2 writes it, in JavaScript's `\p{…}` form. */
function propertyText(negated: boolean, name: string): string {
  let neg = negated;
  let n = name;
  if (n.startsWith('^')) {
    neg = !neg;
    n = n.slice(1);
  }
  if (!/^[A-Za-z_]+$/.test(n)) throw new Re2UntranslatableError(`the Unicode class '${name}' is not valid`);
  const body = /^[LMNPSZC][a-z]?$/.test(n) || n === 'Any' ? n : `Script=${n}`;
  return `\\${neg ? 'P' : 'p'}{${body}}`;
}

class Translator {
  readonly src: string;
  pos = 0;
  out = '';
  readonly frames: Frame[];
  baseI: boolean;

  constructor(src: string, caseInsensitive: boolean) {
    this.src = src;
    this.baseI = caseInsensitive;
    const flags = { i: caseInsensitive, m: false, s: false, U: false };
    this.frames = [{ start: flags, now: { ...flags }, wrapped: false }];
  }

  get frame(): Frame {
    return this.frames[this.frames.length - 1]!;
  }

  run(): Translated {
    // a leading `(?i)` is the pattern's flag, as the `i` flag of the RegExp
    const lead = /^\(\?([imsU]+)\)/.exec(this.src);
    if (lead !== null && !lead[1]!.includes('-')) {
      this.pos = lead[0].length;
      const f = this.frame;
      for (const c of lead[1]!) f.now[c as keyof Flags] = true;
      if (f.now.i) this.baseI = true;
      f.start = { ...f.now, m: false }; // the RegExp has no `m` flag: a wrapper says it
      this.openWrapper();
    }
    while (this.pos < this.src.length) this.step();
    while (this.frames.length > 1) this.frames.pop(); // unbalanced: JavaScript reports it
    this.closeWrapper();
    return { source: this.out, caseInsensitive: this.baseI };
  }

  closeWrapper(): void {
    if (this.frame.wrapped) {
      this.out += ')';
      this.frame.wrapped = false;
    }
  }

  openWrapper(): void {
    const f = this.frame;
    const text = modifierText(f.start, f.now);
    if (text !== '') {
      this.out += text;
      f.wrapped = true;
    }
  }

  setFlags(now: Flags): void {
    this.closeWrapper();
    this.frame.now = now;
    this.openWrapper();
  }

  step(): void {
    const c = this.src[this.pos]!;
    switch (c) {
      case '\\': return this.escape();
      case '[': return this.characterClass();
      case '(': return this.openGroup();
      case ')':
        this.pos++;
        this.closeWrapper();
        if (this.frames.length > 1) this.frames.pop();
        this.out += ')';
        return;
      case '|':
        this.pos++;
        this.closeWrapper();
        this.out += '|';
        this.openWrapper();
        return;
      case '*': case '+': case '?':
        this.pos++;
        return this.quantifier(c);
      case '{': {
        const m = /^\{(\d+)(,\d*)?\}/.exec(this.src.slice(this.pos));
        if (m === null) {
          this.pos++;
          this.out += '\\{';
          return;
        }
        this.pos += m[0].length;
        return this.quantifier(m[0]);
      }
      case '}': case ']':
        this.pos++;
        this.out += `\\${c}`;
        return;
      case '.':
        this.pos++;
        this.out += this.frame.now.s ? '[^]' : '[^\\n]';
        return;
      default: {
        const cp = this.src.codePointAt(this.pos)!;
        this.pos += cp > 0xffff ? 2 : 1;
        this.out += String.fromCodePoint(cp);
      }
    }
  }

  quantifier(text: string): void {
    let lazy = false;
    if (this.src[this.pos] === '?') {
      lazy = true;
      this.pos++;
    }
    if (this.frame.now.U) lazy = !lazy;
    this.out += text + (lazy ? '?' : '');
  }

  openGroup(): void {
    const rest = this.src.slice(this.pos);
    const outer = this.frame.now;
    let m: RegExpExecArray | null;
    if ((m = /^\(\?P?<([A-Za-z0-9_]+)>/.exec(rest)) !== null) {
      this.pos += m[0].length;
      this.out += `(?<${m[1]}>`;
      this.frames.push({ start: { ...outer }, now: { ...outer }, wrapped: false });
      return;
    }
    if ((m = /^\(\?([imsU]*)(?:-([imsU]*))?([:)])/.exec(rest)) !== null && (m[1] !== '' || (m[2] ?? '') !== '')) {
      this.pos += m[0].length;
      const flags = { ...outer };
      for (const c of m[1]!) flags[c as keyof Flags] = true;
      for (const c of m[2] ?? '') flags[c as keyof Flags] = false;
      if (m[3] === ')') return this.setFlags(flags); // to the end of the enclosing group
      this.out += modifierText(outer, flags) || '(?:';
      this.frames.push({ start: flags, now: { ...flags }, wrapped: false });
      return;
    }
    if (rest.startsWith('(?:')) {
      this.pos += 3;
      this.out += '(?:';
    } else if ((m = /^\(\?<?[=!]/.exec(rest)) !== null) {
      // not RE2 syntax: passed on for compileSafeRegex to refuse in its own words
      this.pos += m[0].length;
      this.out += m[0];
    } else if ((m = /^\(\?P=([A-Za-z0-9_]+)\)/.exec(rest)) !== null) {
      this.pos += m[0].length;
      this.out += `\\k<${m[1]}>`;
      return;
    } else if (rest.startsWith('(?')) {
      throw new Re2UntranslatableError(`the group '${rest.slice(0, 4)}…' is not RE2 syntax`);
    } else {
      this.pos += 1;
      this.out += '(';
    }
    this.frames.push({ start: { ...outer }, now: { ...outer }, wrapped: false });
  }

  /** The escape at pos as code point ranges (for use in a class), or null when it is not a set of characters. */
  escapeRanges(): { ranges?: Range[]; text?: string } {
    const next = this.src[this.pos + 1] ?? '';
    const rest = this.src.slice(this.pos);
    if (next === '') throw new Re2UntranslatableError('it ends with a lone backslash');
    let m: RegExpExecArray | null;
    if (/[dDwW]/.test(next)) {
      this.pos += 2;
      return { text: `\\${next}` };
    }
    if (next === 's' || next === 'S') {
      this.pos += 2;
      return { ranges: next === 's' ? PERL_SPACE : complement(PERL_SPACE) };
    }
    if ((m = /^\\([pP])(?:\{([^}]*)\}|([A-Za-z]))/.exec(rest)) !== null) {
      this.pos += m[0].length;
      return { text: propertyText(m[1] === 'P', m[2] ?? m[3]!) };
    }
    if ((m = /^\\x\{([0-9a-fA-F]{1,6})\}/.exec(rest)) !== null || (m = /^\\x([0-9a-fA-F]{2})/.exec(rest)) !== null) {
      const cp = parseInt(m[1]!, 16);
      if (cp > MAX_CP) throw new Re2UntranslatableError(`the escape '${m[0]}' is beyond Unicode`);
      this.pos += m[0].length;
      return { ranges: [[cp, cp]] };
    }
    if ((m = /^\\(0[0-7]{0,2}|[1-7][0-7]{1,2})/.exec(rest)) !== null) {
      this.pos += m[0].length;
      const cp = parseInt(m[1]!, 8);
      return { ranges: [[cp, cp]] };
    }
    if (/[1-9]/.test(next)) {
      // a backreference: not RE2 syntax, passed on for compileSafeRegex to refuse in its own words
      this.pos += 2;
      return { text: `\\${next}` };
    }
    const controls: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };
    if (next in controls) {
      this.pos += 2;
      return { ranges: [[controls[next]!, controls[next]!]] };
    }
    if (next === 'C') throw new Re2UntranslatableError("'\\C' (any single byte) has no JavaScript equivalent");
    const cp = next.codePointAt(0)!;
    if (cp < 0x80 && !/[0-9A-Za-z]/.test(next)) {
      this.pos += 2;
      return { ranges: [[cp, cp]] };
    }
    throw new Re2UntranslatableError(`the escape '\\${next}' is not RE2 syntax`);
  }

  escape(): void {
    const next = this.src[this.pos + 1] ?? '';
    const anchor = { A: '^', z: '$' }[next as 'A' | 'z'];
    if (anchor !== undefined) {
      this.pos += 2;
      this.out += this.frame.now.m ? `(?-m:${anchor})` : anchor;
      return;
    }
    if (next === 'b' || next === 'B') {
      this.pos += 2;
      this.out += `\\${next}`;
      return;
    }
    if (next === 'Q') {
      const end = this.src.indexOf('\\E', this.pos + 2);
      const literal = this.src.slice(this.pos + 2, end === -1 ? undefined : end);
      this.pos = end === -1 ? this.src.length : end + 2;
      for (const ch of literal) this.out += JS_SYNTAX.has(ch) ? `\\${ch}` : ch;
      return;
    }
    if (next === 'E') {
      this.pos += 2; // a stray \E is ignored by RE2
      return;
    }
    if (next === 'S') {
      this.pos += 2;
      this.out += `[^${rangesText(PERL_SPACE)}]`;
      return;
    }
    const { ranges, text } = this.escapeRanges();
    if (text !== undefined) this.out += text;
    else if (ranges!.length === 1 && ranges![0]![0] === ranges![0]![1]) {
      const cp = ranges![0]![0];
      const ch = String.fromCodePoint(cp);
      this.out += JS_SYNTAX.has(ch) ? `\\${ch}` : cpText(cp);
    } else this.out += `[${rangesText(ranges!)}]`;
  }

  characterClass(): void {
    this.pos++; // '['
    let negated = false;
    if (this.src[this.pos] === '^') {
      negated = true;
      this.pos++;
    }
    const parts: string[] = [];
    /** Set when the class is a single negated POSIX class or `\S`: written as `[^…]` instead. */
    const alone: Range[][] = [];
    let first = true;
    while (this.pos < this.src.length && (first || this.src[this.pos] !== ']')) {
      first = false;
      const c = this.src[this.pos]!;
      const rest = this.src.slice(this.pos);
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(rest);
      if (posix !== null) {
        const set = POSIX[posix[2]!];
        if (set === undefined) throw new Re2UntranslatableError(`the POSIX class '[:${posix[2]}:]' does not exist`);
        this.pos += posix[0].length;
        if (posix[1] === '^') alone.push(set);
        parts.push(rangesText(posix[1] === '^' ? complement(set) : set));
        continue;
      }
      if (c === '\\') {
        if (rest.startsWith('\\Q')) throw new Re2UntranslatableError("'\\Q…\\E' inside a character class is not supported: escape each character instead");
        const isNegS = rest.startsWith('\\S');
        const { ranges, text } = this.escapeRanges();
        if (isNegS) alone.push(PERL_SPACE);
        if (text !== undefined) parts.push(text);
        else if (ranges!.length === 1 && ranges![0]![0] === ranges![0]![1]) {
          const ch = String.fromCodePoint(ranges![0]![0]);
          parts.push(ch === '-' || JS_SYNTAX.has(ch) ? `\\${ch}` : cpText(ranges![0]![0]));
        } else parts.push(rangesText(ranges!));
        continue;
      }
      if (c === '[' || c === ']') {
        this.pos++;
        parts.push(`\\${c}`);
        continue;
      }
      const cp = this.src.codePointAt(this.pos)!;
      this.pos += cp > 0xffff ? 2 : 1;
      parts.push(String.fromCodePoint(cp));
    }
    if (this.src[this.pos] !== ']') {
      this.out += `[${negated ? '^' : ''}${parts.join('')}`; // unterminated: JavaScript reports it
      return;
    }
    this.pos++;
    if (parts.length === 1 && alone.length === 1) {
      // `[[:^alpha:]]` → `[^A-Za-z]`: no ranges up to U+10FFFF, which the linear engine could not run
      this.out += `[${negated ? '' : '^'}${rangesText(alone[0]!)}]`;
      return;
    }
    this.out += `[${negated ? '^' : ''}${parts.join('')}]`;
  }
}

/** RE2 `pattern` as JavaScript; `caseInsensitive` is the flag the caller starts with. */
export function translateRe2(pattern: string, caseInsensitive = false): Translated {
  return new Translator(pattern, caseInsensitive).run();
}
