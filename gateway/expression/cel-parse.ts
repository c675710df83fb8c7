/**
 * A parser for the part of Google's Common Expression Language (CEL) that Authelia's
 * `definitions.user_attributes` expressions are written in: literals (lists and maps too), names,
 * field selection and indexing, `!`/`-`, `* / %`, `+ -`, comparisons and `in`, `&&`, `||`, `?:`, and a
 * fixed list of functions and methods (cel-eval.ts). Anything else is refused here, at config load,
 * with the character it starts at; nothing is ever evaluated that did not parse.
 *
 * Bounded: the source is at most MAX_SOURCE characters, nesting at most MAX_DEPTH deep and the tree
 * at most MAX_HEIGHT tall, so a hostile or mistaken expression costs a bounded, linear parse (one pass,
 * no backtracking) and a bounded evaluation stack.
 */
import { GatehouseError } from '../../lib/errors.ts';
import { NotLinearRegexError } from '../authz/linear-regex.ts';
import { compileGoRegex } from '../authz/rule-syntax.ts';

export const MAX_SOURCE = 4096;
export const MAX_DEPTH = 48;
/** The tallest tree evaluated (a chain of `||` or `.field` counts each link). */
export const MAX_HEIGHT = 256;

export type CelNode =
  | { kind: 'literal'; value: CelValue; at: number }
  | { kind: 'ident'; name: string; at: number }
  | { kind: 'select'; target: CelNode; field: string; at: number }
  | { kind: 'index'; target: CelNode; index: CelNode; at: number }
  | { kind: 'list'; items: CelNode[]; at: number }
  | { kind: 'map'; entries: [CelNode, CelNode][]; at: number }
  | { kind: 'unary'; op: '!' | '-'; operand: CelNode; at: number }
  | { kind: 'binary'; op: BinaryOp; left: CelNode; right: CelNode; at: number }
  | { kind: 'cond'; test: CelNode; then: CelNode; otherwise: CelNode; at: number }
  | { kind: 'call'; name: string; target: CelNode | null; args: CelNode[]; at: number; regex?: RegExp }
  | { kind: 'macro'; name: MacroName; target: CelNode; variable: string; body: CelNode; transform: CelNode | null; at: number };

type BinaryOp = '||' | '&&' | '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | '+' | '-' | '*' | '/' | '%';
type MacroName = 'exists' | 'all' | 'exists_one' | 'map' | 'filter';
export type CelValue = null | boolean | number | string | readonly CelValue[] | { readonly [key: string]: CelValue };

/** Functions called on a value (`username.startsWith("a")`), with how many arguments each takes. */
const METHODS: Readonly<Record<string, readonly number[]>> = {
  size: [0], startsWith: [1], endsWith: [1], contains: [1], matches: [1],
  lowerAscii: [0], upperAscii: [0], trim: [0], split: [1], join: [0, 1], replace: [2],
  indexOf: [1], lastIndexOf: [1], substring: [1, 2], charAt: [1],
};
/** Functions called on their own (`size(groups)`, `string(1)`). */
const FUNCTIONS: Readonly<Record<string, readonly number[]>> = { size: [1], string: [1], int: [1], double: [1], bool: [1], has: [1] };
const MACROS: ReadonlySet<string> = new Set(['exists', 'all', 'exists_one', 'map', 'filter']);

/** What is wrong with an expression, and at which character (1-based) of it (the validator reports it as a config error). */
export class CelSyntaxError extends GatehouseError {
  declare readonly code: 'config_invalid';
  readonly position: number;
  constructor(message: string, position: number) {
    super('config_invalid', message);
    this.position = position;
  }
}

type Token = { type: 'num' | 'str' | 'ident' | 'op' | 'end'; text: string; value?: CelValue; at: number };

const OPERATORS = ['&&', '||', '==', '!=', '<=', '>=', '<', '>', '!', '?', ':', '+', '-', '*', '/', '%', '(', ')', '[', ']', '{', '}', '.', ','];
const RESERVED = new Set(['as', 'break', 'const', 'continue', 'else', 'for', 'function', 'if', 'import', 'let', 'loop', 'package', 'namespace', 'return', 'var', 'void', 'while']);

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { i++; continue; }
    if (c === '/' && source[i + 1] === '/') { while (i < source.length && source[i] !== '\n') i++; continue; }
    const at = i + 1;
    if (/[0-9]/.test(c)) {
      const m = /^(?:0x[0-9a-fA-F]+|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)/.exec(source.slice(i, i + 64))!;
      const text = m[0];
      i += text.length;
      if (source[i] === 'u' || source[i] === 'U') i++; // an unsigned literal is a number like any other
      const value = Number(text);
      if (!Number.isFinite(value) || (!/[.eE]/.test(text) && !Number.isSafeInteger(value))) throw new CelSyntaxError(`the number ${text} is out of range`, at);
      tokens.push({ type: 'num', text, value, at });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < source.length && /[A-Za-z0-9_]/.test(source[j]!)) j++;
      const word = source.slice(i, j);
      if ((word === 'r' || word === 'R') && (source[j] === '"' || source[j] === "'")) {
        const { value, end } = readString(source, j, true);
        tokens.push({ type: 'str', text: word, value, at });
        i = end;
        continue;
      }
      if (word === 'b' || word === 'B') {
        if (source[j] === '"' || source[j] === "'") throw new CelSyntaxError('bytes literals are not supported', at);
      }
      tokens.push({ type: 'ident', text: word, at });
      i = j;
      continue;
    }
    if (c === '"' || c === "'") {
      const { value, end } = readString(source, i, false);
      tokens.push({ type: 'str', text: c, value, at });
      i = end;
      continue;
    }
    const op = OPERATORS.find((o) => source.startsWith(o, i));
    if (op === undefined) throw new CelSyntaxError(`unexpected character '${c}'`, at);
    tokens.push({ type: 'op', text: op, at });
    i += op.length;
  }
  tokens.push({ type: 'end', text: 'the end of the expression', at: source.length + 1 });
  return tokens;
}

const ESCAPES: Readonly<Record<string, string>> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"', '`': '`', '?': '?', a: '\x07', b: '\b', f: '\f', v: '\v' };

function readString(source: string, start: number, raw: boolean): { value: string; end: number } {
  const quote = source[start]!;
  if (source.startsWith(quote.repeat(3), start)) throw new CelSyntaxError('triple-quoted strings are not supported', start + 1);
  let out = '';
  let i = start + 1;
  while (i < source.length) {
    const c = source[i]!;
    if (c === quote) return { value: out, end: i + 1 };
    if (c === '\n' || c === '\r') break;
    if (c === '\\' && !raw) {
      const e = source[i + 1] ?? '';
      if (e in ESCAPES) { out += ESCAPES[e]; i += 2; continue; }
      const hex = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
      const digits = source.slice(i + 2, i + 2 + hex);
      if (hex !== 0 && /^[0-9a-fA-F]+$/.test(digits) && digits.length === hex) {
        const code = Number.parseInt(digits, 16);
        if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) throw new CelSyntaxError('the escape names no character', i + 1);
        out += String.fromCodePoint(code);
        i += 2 + hex;
        continue;
      }
      throw new CelSyntaxError(`the escape '\\${e}' is not supported`, i + 1);
    }
    out += c;
    i++;
  }
  throw new CelSyntaxError('the string is not closed', start + 1);
}

/** Parses `source`, or throws CelSyntaxError naming the first problem and its character. */
export function parseCel(source: string): CelNode {
  if (source.length > MAX_SOURCE) throw new CelSyntaxError(`the expression is longer than ${MAX_SOURCE} characters`, MAX_SOURCE + 1);
  if (source.trim() === '') throw new CelSyntaxError('the expression is empty', 1);
  const tokens = tokenize(source);
  let pos = 0;
  let depth = 0;
  const peek = (): Token => tokens[pos]!;
  const next = (): Token => tokens[pos++]!;
  const isOp = (text: string): boolean => peek().type === 'op' && peek().text === text;
  const shown = (t: Token): string => (t.type === 'end' ? t.text : t.type === 'str' ? 'a string' : `'${t.text}'`);
  const expect = (text: string): Token => {
    const t = next();
    if (t.type !== 'op' || t.text !== text) throw new CelSyntaxError(`expected '${text}' but found ${shown(t)}`, t.at);
    return t;
  };
  const enter = (at: number): void => {
    if (++depth > MAX_DEPTH) throw new CelSyntaxError(`the expression nests deeper than ${MAX_DEPTH} levels`, at);
  };

  function expr(): CelNode {
    enter(peek().at);
    const test = orExpr();
    let node = test;
    if (isOp('?')) {
      const at = next().at;
      const then = orExpr();
      expect(':');
      node = { kind: 'cond', test, then, otherwise: expr(), at };
    }
    depth--;
    return node;
  }
  function binaryLevel(ops: readonly string[], operand: () => CelNode): () => CelNode {
    return () => {
      let left = operand();
      for (;;) {
        const t = peek();
        const op = t.type === 'op' && ops.includes(t.text) ? t.text : t.type === 'ident' && t.text === 'in' && ops.includes('in') ? 'in' : null;
        if (op === null) return left;
        next();
        left = { kind: 'binary', op: op as BinaryOp, left, right: operand(), at: t.at };
      }
    };
  }
  const multiplication = binaryLevel(['*', '/', '%'], unary);
  const addition = binaryLevel(['+', '-'], multiplication);
  const relation = binaryLevel(['==', '!=', '<', '<=', '>', '>=', 'in'], addition);
  const andExpr = binaryLevel(['&&'], relation);
  const orExpr = binaryLevel(['||'], andExpr);

  function unary(): CelNode {
    if (isOp('!') || isOp('-')) {
      const t = next();
      enter(t.at);
      const operand = unary();
      depth--;
      if (t.text === '-' && operand.kind === 'literal' && typeof operand.value === 'number') return { kind: 'literal', value: -operand.value, at: t.at };
      return { kind: 'unary', op: t.text as '!' | '-', operand, at: t.at };
    }
    return member();
  }

  function member(): CelNode {
    let node = primary();
    for (;;) {
      if (isOp('.')) {
        next();
        const name = next();
        if (name.type !== 'ident') throw new CelSyntaxError(`expected a field or method name after '.' but found ${shown(name)}`, name.at);
        if (isOp('(')) node = call(name, node);
        else node = { kind: 'select', target: node, field: name.text, at: name.at };
      } else if (isOp('[')) {
        const at = next().at;
        enter(at);
        const index = expr();
        depth--;
        expect(']');
        node = { kind: 'index', target: node, index, at };
      } else {
        return node;
      }
    }
  }

  function args(): CelNode[] {
    const open = expect('(');
    enter(open.at);
    const list: CelNode[] = [];
    if (!isOp(')')) {
      do list.push(expr()); while (isOp(',') && next());
    }
    expect(')');
    depth--;
    return list;
  }

  function call(name: Token, target: CelNode | null): CelNode {
    if (target !== null && MACROS.has(name.text)) return macro(name, target);
    const list = args();
    const table = target === null ? FUNCTIONS : METHODS;
    const arities = Object.hasOwn(table, name.text) ? table[name.text] : undefined;
    if (arities === undefined) {
      const what = target === null ? `the function '${name.text}'` : `the method '.${name.text}()'`;
      throw new CelSyntaxError(`${what} is not supported (supported: ${Object.keys(table).join(', ')}${target === null ? '' : ', exists, all, exists_one, map, filter'})`, name.at);
    }
    if (!arities.includes(list.length)) throw new CelSyntaxError(`'${name.text}' takes ${arities.join(' or ')} argument(s), not ${list.length}`, name.at);
    const node: CelNode = { kind: 'call', name: name.text, target, args: list, at: name.at };
    if (name.text === 'has' && list[0]!.kind !== 'select') throw new CelSyntaxError("'has' takes a field selection such as has(address.country)", name.at);
    if (name.text === 'matches') {
      const pattern = list[0]!;
      // compiled here, so a pattern is checked at config load and runs on the linear-time engine
      if (pattern.kind !== 'literal' || typeof pattern.value !== 'string') throw new CelSyntaxError("the pattern of 'matches' must be a string literal", pattern.at);
      try {
        node.regex = compileGoRegex(pattern.value, false, false);
      } catch (err) {
        throw new CelSyntaxError(`the pattern of 'matches' ${patternProblem(err)}`, pattern.at);
      }
    }
    return node;
  }

  function macro(name: Token, target: CelNode): CelNode {
    const open = expect('(');
    enter(open.at);
    const variable = next();
    if (variable.type !== 'ident' || RESERVED.has(variable.text)) throw new CelSyntaxError(`'${name.text}' takes a variable name first, not ${shown(variable)}`, variable.at);
    expect(',');
    const first = expr();
    let transform: CelNode | null = null;
    let body = first;
    if (name.text === 'map' && isOp(',')) {
      next();
      transform = expr();
    }
    expect(')');
    depth--;
    if (name.text === 'map' && transform === null) { transform = first; body = { kind: 'literal', value: true, at: first.at }; }
    return { kind: 'macro', name: name.text as MacroName, target, variable: variable.text, body, transform, at: name.at };
  }

  function primary(): CelNode {
    const t = next();
    if (t.type === 'num' || t.type === 'str') return { kind: 'literal', value: t.value!, at: t.at };
    if (t.type === 'ident') {
      if (t.text === 'true' || t.text === 'false') return { kind: 'literal', value: t.text === 'true', at: t.at };
      if (t.text === 'null') return { kind: 'literal', value: null, at: t.at };
      if (RESERVED.has(t.text) || t.text === 'in') throw new CelSyntaxError(`'${t.text}' is a reserved word`, t.at);
      if (isOp('(')) return call(t, null);
      return { kind: 'ident', name: t.text, at: t.at };
    }
    if (t.type === 'op' && t.text === '(') {
      const inner = expr();
      expect(')');
      return inner;
    }
    if (t.type === 'op' && t.text === '[') {
      enter(t.at);
      const items: CelNode[] = [];
      while (!isOp(']')) {
        items.push(expr());
        if (!isOp(',')) break;
        next();
      }
      expect(']');
      depth--;
      return { kind: 'list', items, at: t.at };
    }
    if (t.type === 'op' && t.text === '{') {
      enter(t.at);
      const entries: [CelNode, CelNode][] = [];
      while (!isOp('}')) {
        const key = expr();
        expect(':');
        entries.push([key, expr()]);
        if (!isOp(',')) break;
        next();
      }
      expect('}');
      depth--;
      return { kind: 'map', entries, at: t.at };
    }
    throw new CelSyntaxError(`expected a value but found ${shown(t)}`, t.at);
  }

  const root = expr();
  if (peek().type !== 'end') throw new CelSyntaxError(`unexpected ${shown(peek())} after a complete expression`, peek().at);
  checkHeight(root);
  return root;
}

/**
 * A long flat chain (`a || b || …`, `x.f.g.h…`) nests no brackets but makes a tall tree, and
 * evaluating it recurses once per level: refuse one taller than MAX_HEIGHT, found without recursing.
 */
function checkHeight(root: CelNode): void {
  const stack: [CelNode, number][] = [[root, 1]];
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const [node, height] = entry;
    if (height > MAX_HEIGHT) throw new CelSyntaxError(`the expression is a chain of more than ${MAX_HEIGHT} operations; split it into several attributes`, node.at);
    for (const child of childrenOf(node)) stack.push([child, height + 1]);
  }
}

function childrenOf(n: CelNode): CelNode[] {
  switch (n.kind) {
    case 'literal': case 'ident': return [];
    case 'select': return [n.target];
    case 'index': return [n.target, n.index];
    case 'list': return n.items;
    case 'map': return n.entries.flat();
    case 'unary': return [n.operand];
    case 'binary': return [n.left, n.right];
    case 'cond': return [n.test, n.then, n.otherwise];
    case 'call': return n.target ? [n.target, ...n.args] : n.args;
    case 'macro': return n.transform ? [n.target, n.body, n.transform] : [n.target, n.body];
  }
}

/** Why compileGoRegex refused a pattern, in the words access_control uses for its patterns. */
function patternProblem(err: unknown): string {
  if (err instanceof NotLinearRegexError) {
    return err.reason === 'backreference_or_lookaround'
      ? 'uses a construct that cannot run in linear time (backreferences or lookaround); RE2 syntax as in Authelia'
      : `could backtrack for a very long time, and the linear-time engine Gatehouse runs such patterns on does not support ${err.message}: simplify the pattern`;
  }
  const message = err instanceof Error ? err.message : String(err);
  return `is not a valid regular expression: ${message.replace(/^Invalid regular expression: \/[\s\S]*\/[dgimlsuyv]*: /, '')}`;
}

/** Every name an expression reads from its input (the variables of macros excluded). */
export function freeNames(node: CelNode, bound: ReadonlySet<string> = new Set()): Set<string> {
  const names = new Set<string>();
  const walk = (n: CelNode, scope: ReadonlySet<string>): void => {
    switch (n.kind) {
      case 'literal': return;
      case 'ident': if (!scope.has(n.name)) names.add(n.name); return;
      case 'select': walk(n.target, scope); return;
      case 'index': walk(n.target, scope); walk(n.index, scope); return;
      case 'list': n.items.forEach((item) => walk(item, scope)); return;
      case 'map': n.entries.forEach(([k, v]) => { walk(k, scope); walk(v, scope); }); return;
      case 'unary': walk(n.operand, scope); return;
      case 'binary': walk(n.left, scope); walk(n.right, scope); return;
      case 'cond': walk(n.test, scope); walk(n.then, scope); walk(n.otherwise, scope); return;
      case 'call': if (n.target) walk(n.target, scope); n.args.forEach((a) => walk(a, scope)); return;
      case 'macro': {
        walk(n.target, scope);
        const inner = new Set([...scope, n.variable]);
        walk(n.body, inner);
        if (n.transform) walk(n.transform, inner);
      }
    }
  };
  walk(node, bound);
  return names;
}
