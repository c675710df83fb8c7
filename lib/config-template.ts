/**
 * Authelia's configuration file filters (`X_AUTHELIA_CONFIG_FILTERS`, or `GATEHOUSE_CONFIG_FILTERS`):
 * `template` evaluates each file as a Go text/template before it is read as YAML, `expand-env` expands
 * `$NAME` / `${NAME}`. The template evaluator is a small one of its own, for what configuration files
 * use: `{{ … }}` actions calling the functions of `config-template-functions.ts` with literals, nested
 * `( … )` calls and `|` pipelines, `{{-` / `-}}` trimming, comments, and `if` / `else if` / `else` /
 * `end`. Everything else of Go's template language (variables, fields, `range`, `with`, `define`) is
 * refused with the file and line, never guessed at.
 */
import { ConfigError } from './errors.ts';
import { configError, type ConfigProblem } from './config-problems.ts';
import { callTemplateFunction, expandEnv, hasTemplateFunction, printed, templateFailure, truthy, type TemplateContext, type TemplateValue } from './config-template-functions.ts';

export type ConfigFilter = 'template' | 'expand-env';

const FILTER_VARIABLES = ['X_AUTHELIA_CONFIG_FILTERS', 'GATEHOUSE_CONFIG_FILTERS'] as const;

/** The filters the environment asks for, in order; a problem for an unknown or repeated one. */
export function configFilters(env: NodeJS.ProcessEnv, problems: ConfigProblem[]): ConfigFilter[] {
  const [authelia, gatehouse] = FILTER_VARIABLES.map((name) => env[name]?.trim() ?? '');
  if (authelia && gatehouse && authelia !== gatehouse) {
    problems.push(configError(FILTER_VARIABLES[1], `and ${FILTER_VARIABLES[0]} name different filters; set one`));
    return [];
  }
  const variable = authelia ? FILTER_VARIABLES[0] : FILTER_VARIABLES[1];
  const filters: ConfigFilter[] = [];
  for (const name of (authelia || gatehouse || '').split(/[\s,]+/).filter((n) => n !== '')) {
    const filter = name.toLowerCase();
    if (filter !== 'template' && filter !== 'expand-env') {
      problems.push(configError(variable, `'${name}' is not a filter; the filters are 'template' and 'expand-env'`));
    } else if (filters.includes(filter)) {
      problems.push(configError(variable, `names the filter '${filter}' twice`));
    } else filters.push(filter);
  }
  return filters;
}

/** A file's text through the filters; throws ConfigError naming the file and line. Files `secret` / `fileContent` read are added to `context.filesRead`. */
export function applyConfigFilters(text: string, file: string, filters: readonly ConfigFilter[], context: TemplateContext): string {
  let out = text;
  for (const filter of filters) out = filter === 'template' ? renderConfigTemplate(out, file, context) : expandEnv(out, context.env);
  return out;
}

type Token =
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'ident'; v: string }
  | { t: '|' }
  | { t: '(' }
  | { t: ')' };

interface ActionSegment {
  line: number;
  tokens: Token[];
}

type Node = { text: string } | { action: ActionSegment } | { cond: ActionSegment; then: Node[]; else: Node[] };

/** A template the evaluator cannot read, at its line; reported as the file's problem. */
class TemplateSyntax extends ConfigError {
  readonly line: number;
  readonly reason: string;
  constructor(line: number, reason: string) {
    super([reason]);
    this.line = line;
    this.reason = reason;
  }
}

const SPACE = /[ \t\r\n]/;
const REFUSED_KEYWORDS = new Set(['range', 'with', 'define', 'template', 'block', 'break', 'continue']);

function unquote(body: string, line: number): string {
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/g, (_, esc: string) => {
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", a: '\x07', b: '\b', f: '\f', v: '\v' };
    if (esc in simple) return simple[esc]!;
    if (/^[xuU]/.test(esc)) return String.fromCodePoint(parseInt(esc.slice(1), 16));
    if (/^[0-7]{3}$/.test(esc)) return String.fromCharCode(parseInt(esc, 8));
    throw new TemplateSyntax(line, `unknown escape sequence \\${esc} in a string`);
  });
}

/** The tokens of one action from `start` (just after `{{` and its trim marker); where it ends and whether it trims after. */
function lexAction(text: string, start: number, line: number): { tokens: Token[]; end: number; trimAfter: boolean } {
  const tokens: Token[] = [];
  let i = start;
  while (i < text.length) {
    const c = text[i]!;
    if (SPACE.test(c)) {
      if (text.startsWith('-}}', i + 1)) return { tokens, end: i + 4, trimAfter: true };
      i++;
      continue;
    }
    if (text.startsWith('}}', i)) return { tokens, end: i + 2, trimAfter: false };
    if (c === '|' || c === '(' || c === ')') {
      tokens.push({ t: c });
      i++;
      continue;
    }
    if (c === '"') {
      const m = /^"((?:[^"\\\n]|\\.)*)"/.exec(text.slice(i));
      if (!m) throw new TemplateSyntax(line, 'a string is not closed on its line');
      tokens.push({ t: 'str', v: unquote(m[1]!, line) });
      i += m[0].length;
      continue;
    }
    if (c === '`') {
      const close = text.indexOf('`', i + 1);
      if (close < 0) throw new TemplateSyntax(line, 'a raw string is not closed');
      tokens.push({ t: 'str', v: text.slice(i + 1, close) });
      i = close + 1;
      continue;
    }
    const number = /^-?(?:\d+\.\d*|\.\d+|\d+)(?![\w.])/.exec(text.slice(i));
    if (number) {
      tokens.push({ t: 'num', v: Number(number[0]) });
      i += number[0].length;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (ident) {
      tokens.push({ t: 'ident', v: ident[0] });
      i += ident[0].length;
      continue;
    }
    if (c === '.' || c === '$') throw new TemplateSyntax(line, `fields and variables ('${c}…') are not supported in Gatehouse's configuration templates`);
    throw new TemplateSyntax(line, `unexpected '${c}' in an action`);
  }
  throw new TemplateSyntax(line, "an action opened with '{{' is not closed with '}}'");
}

/** The file cut into text and actions, `{{-` / `-}}` trimming applied, comments dropped, `if` blocks nested. */
function parseTemplate(text: string): Node[] {
  const root: Node[] = [];
  // each open `if`: where its nodes go now, and whether it was opened by `else if` (closed by the same `end`)
  const stack: { node: { cond: ActionSegment; then: Node[]; else: Node[] }; inElse: boolean; chained: boolean; line: number }[] = [];
  const target = (): Node[] => {
    const top = stack.at(-1);
    return top ? (top.inElse ? top.node.else : top.node.then) : root;
  };
  let pos = 0;
  let line = 1;
  let trimNext = false;
  while (pos <= text.length) {
    const open = text.indexOf('{{', pos);
    let chunk = text.slice(pos, open < 0 ? text.length : open);
    if (trimNext) chunk = chunk.replace(/^[ \t\r\n]+/, '');
    if (open < 0) {
      if (chunk !== '') target().push({ text: chunk });
      break;
    }
    line += (text.slice(pos, open).match(/\n/g) ?? []).length;
    const trimBefore = text[open + 2] === '-' && SPACE.test(text[open + 3] ?? '');
    if (trimBefore) chunk = chunk.replace(/[ \t\r\n]+$/, '');
    if (chunk !== '') target().push({ text: chunk });
    let start = open + (trimBefore ? 3 : 2);
    const afterSpace = text.slice(start).match(/^[ \t\r\n]*/)![0].length;
    let action: { tokens: Token[]; end: number; trimAfter: boolean };
    if (text.startsWith('/*', start + afterSpace)) {
      const close = text.indexOf('*/', start + afterSpace + 2);
      if (close < 0) throw new TemplateSyntax(line, 'a comment is not closed');
      start = close + 2;
      action = lexAction(text, start, line);
      if (action.tokens.length > 0) throw new TemplateSyntax(line, "a comment must end with '*/}}'");
    } else action = lexAction(text, start, line);
    const segment = { line, tokens: action.tokens };
    line += (text.slice(open, action.end).match(/\n/g) ?? []).length;
    pos = action.end;
    trimNext = action.trimAfter;
    const first = action.tokens[0];
    const keyword = first?.t === 'ident' ? first.v : '';
    if (keyword === 'if') {
      if (action.tokens.length === 1) throw new TemplateSyntax(segment.line, "'if' needs a condition");
      const node = { cond: { line: segment.line, tokens: action.tokens.slice(1) }, then: [], else: [] };
      target().push(node);
      stack.push({ node, inElse: false, chained: false, line: segment.line });
    } else if (keyword === 'else') {
      const top = stack.at(-1);
      if (!top || top.inElse) throw new TemplateSyntax(segment.line, "'else' without an 'if'");
      top.inElse = true;
      const second = action.tokens[1];
      if (second?.t === 'ident' && second.v === 'if') {
        if (action.tokens.length === 2) throw new TemplateSyntax(segment.line, "'else if' needs a condition");
        const node = { cond: { line: segment.line, tokens: action.tokens.slice(2) }, then: [], else: [] };
        top.node.else.push(node);
        stack.push({ node, inElse: false, chained: true, line: segment.line });
      } else if (action.tokens.length > 1) throw new TemplateSyntax(segment.line, "'else' takes nothing after it but 'if'");
    } else if (keyword === 'end') {
      if (action.tokens.length > 1) throw new TemplateSyntax(segment.line, "'end' takes nothing after it");
      if (stack.length === 0) throw new TemplateSyntax(segment.line, "'end' without an 'if'");
      while (stack.pop()?.chained);
    } else if (REFUSED_KEYWORDS.has(keyword)) {
      throw new TemplateSyntax(segment.line, `'${keyword}' is not supported in Gatehouse's configuration templates (only if, else and end)`);
    } else if (action.tokens.length > 0) {
      target().push({ action: segment });
    }
  }
  const unclosed = stack.find((entry) => !entry.chained) ?? stack[0];
  if (unclosed) throw new TemplateSyntax(unclosed.line, "this 'if' has no 'end'");
  return root;
}

type Operand = { literal: TemplateValue } | { fn: string } | { pipeline: Operand[][] };

/** Tokens into a pipeline: commands separated by `|`, each a list of operands. */
function parsePipeline(tokens: Token[], line: number): Operand[][] {
  let i = 0;
  const pipeline = (closing: boolean): Operand[][] => {
    const commands: Operand[][] = [[]];
    while (i < tokens.length) {
      const token = tokens[i++]!;
      const command = commands.at(-1)!;
      if (token.t === ')') {
        if (!closing) throw new TemplateSyntax(line, "unexpected ')'");
        if (command.length === 0) throw new TemplateSyntax(line, "an empty command before ')'");
        return commands;
      }
      if (token.t === '|') {
        if (command.length === 0) throw new TemplateSyntax(line, "an empty command before '|'");
        commands.push([]);
      } else if (token.t === '(') command.push({ pipeline: pipeline(true) });
      else if (token.t === 'str' || token.t === 'num') command.push({ literal: token.v });
      else if (token.v === 'true' || token.v === 'false') command.push({ literal: token.v === 'true' });
      else if (token.v === 'nil') command.push({ literal: null });
      else if (token.v === 'if' || token.v === 'else' || token.v === 'end' || REFUSED_KEYWORDS.has(token.v)) {
        throw new TemplateSyntax(line, `'${token.v}' cannot be used inside an expression`);
      } else command.push({ fn: token.v });
    }
    if (closing) throw new TemplateSyntax(line, "a '(' is not closed");
    if (commands.at(-1)!.length === 0) throw new TemplateSyntax(line, "an empty command after '|'");
    return commands;
  };
  return pipeline(false);
}

function evalOperand(operand: Operand, context: TemplateContext): TemplateValue {
  if ('literal' in operand) return operand.literal;
  if ('fn' in operand) return callTemplateFunction(operand.fn, [], context);
  return evalPipeline(operand.pipeline, context);
}

function evalPipeline(commands: Operand[][], context: TemplateContext): TemplateValue {
  let piped: TemplateValue | undefined;
  for (const [first, ...rest] of commands) {
    if (first && 'fn' in first) {
      const args = rest.map((operand) => evalOperand(operand, context));
      piped = callTemplateFunction(first.fn, piped === undefined ? args : [...args, piped], context);
    } else if (first && rest.length === 0 && piped === undefined) {
      piped = evalOperand(first, context);
    } else {
      templateFailure('only a function can be given arguments or take a piped value');
    }
  }
  return piped ?? null;
}

function evalAction(action: ActionSegment, context: TemplateContext): TemplateValue {
  return evalPipeline(parsePipeline(action.tokens, action.line), context);
}

/** Check every function name before anything runs, so an unknown one is refused even in a branch not taken. */
function checkNames(nodes: Node[]): void {
  for (const node of nodes) {
    if ('text' in node) continue;
    const segment = 'action' in node ? node.action : node.cond;
    for (const token of segment.tokens) {
      if (token.t === 'ident' && !['true', 'false', 'nil'].includes(token.v) && !hasTemplateFunction(token.v)) {
        try {
          callTemplateFunction(token.v, [], { env: {}, filesRead: [] });
        } catch (error) {
          if (error instanceof ConfigError) throw new TemplateSyntax(segment.line, error.problems[0] ?? 'unknown function');
          throw error;
        }
      }
    }
    if ('cond' in node) {
      checkNames(node.then);
      checkNames(node.else);
    }
  }
}

/** Evaluate `text` (the file `file`) as a template; throws ConfigError with `<file>: line N: …`. */
export function renderConfigTemplate(text: string, file: string, context: TemplateContext): string {
  let nodes: Node[];
  try {
    nodes = parseTemplate(text);
    checkNames(nodes);
  } catch (error) {
    if (error instanceof TemplateSyntax) throw new ConfigError([configError(file, `line ${error.line}: template: ${error.reason}`)]);
    throw error;
  }
  const out: string[] = [];
  const at = { line: 0 };
  try {
    renderTracked(nodes, context, out, at);
  } catch (error) {
    if (error instanceof TemplateSyntax) throw new ConfigError([configError(file, `line ${error.line}: template: ${error.reason}`)]);
    if (error instanceof ConfigError) throw new ConfigError([configError(file, `line ${at.line}: template: ${error.problems[0] ?? 'failed'}`)]);
    throw error;
  }
  return out.join('');
}

/** `render`, noting the line of the action being evaluated for an error's message. */
function renderTracked(nodes: Node[], context: TemplateContext, out: string[], at: { line: number }): void {
  for (const node of nodes) {
    if ('text' in node) {
      out.push(node.text);
      continue;
    }
    const segment = 'action' in node ? node.action : node.cond;
    at.line = segment.line;
    const value = evalAction(segment, context);
    if ('action' in node) out.push(printed(value));
    else renderTracked(truthy(value) ? node.then : node.else, context, out, at);
  }
}
