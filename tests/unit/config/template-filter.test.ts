import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyConfigFilters, configFilters, renderConfigTemplate } from '../../../lib/config-template.ts';
import { ConfigError } from '../../../lib/errors.ts';
import type { ConfigProblem } from '../../../lib/config-problems.ts';
import { makeTempDir } from '../../helpers/tmp.ts';

let dir: string;
let cleanup: () => Promise<void>;
let secretFile: string;
let pemFile: string;
before(async () => {
  ({ dir, cleanup } = await makeTempDir('gatehouse-template-'));
  secretFile = join(dir, 'secret');
  pemFile = join(dir, 'key.pem');
  await writeFile(secretFile, 's3cr3t-value\n\n');
  await writeFile(pemFile, '-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n');
});
after(() => cleanup());

const env: NodeJS.ProcessEnv = {
  DOMAIN: 'example.com',
  EMPTY: '',
  AUTHELIA_JWT_SECRET: 'hidden',
  GATEHOUSE_SESSION_SECRET: 'hidden',
  X_AUTHELIA_X_TOKEN: 'hidden',
  AUTHELIA_JWT_SECRET_FILE: '/run/secrets/jwt',
};

function render(text: string, filesRead: string[] = []): string {
  return renderConfigTemplate(text, 'config.yml', { env, filesRead });
}

/** The one problem a template raises, rendered. */
function failure(text: string): string {
  try {
    render(text);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.problems.length, 1);
    return error.problems[0]!;
  }
  assert.fail(`no error for ${text}`);
}

describe('the template config filter', () => {
  it('leaves a file without actions as it is', () => {
    assert.equal(render('a: 1\nb: "{ x }"\n'), 'a: 1\nb: "{ x }"\n');
  });

  it('env gives a variable, empty when unset, and never Authelia’s or Gatehouse’s own secrets', () => {
    assert.equal(render('d: {{ env "DOMAIN" }}'), 'd: example.com');
    assert.equal(render('d: [{{ env "NOPE" }}]'), 'd: []');
    assert.equal(render('{{ env "AUTHELIA_JWT_SECRET" }}|{{ env "GATEHOUSE_SESSION_SECRET" }}|{{ env "X_AUTHELIA_X_TOKEN" }}'), '||');
    assert.equal(render('{{ env "$" }}'), '$');
    // a secret's file path is no secret: {{ secret (env "…_FILE") }} works
    assert.equal(render('{{ env "AUTHELIA_JWT_SECRET_FILE" }}'), '/run/secrets/jwt');
    assert.equal(render('{{ mustEnv "AUTHELIA_JWT_SECRET" }}'), '');
  });

  it('mustEnv gives a set variable (even empty) and is an error naming the file and line when unset', () => {
    assert.equal(render('{{ mustEnv "DOMAIN" }}/{{ mustEnv "EMPTY" }}'), 'example.com/');
    assert.equal(failure('a: 1\n\nb: {{ mustEnv "MISSING" }}\n'), "config: config.yml: line 3: template: mustEnv: the environment variable 'MISSING' isn't set");
  });

  it('expandenv expands $NAME and ${NAME} with env’s rules', () => {
    assert.equal(render('{{ expandenv "https://${DOMAIN}/$DOMAIN/$AUTHELIA_JWT_SECRET" }}'), 'https://example.com/example.com/');
  });

  it('secret reads a file without its final newlines; fileContent reads it whole; both report the file read', () => {
    const read: string[] = [];
    assert.equal(render(`p: '{{ secret "${secretFile}" }}'`, read), "p: 's3cr3t-value'");
    assert.equal(render(`{{ fileContent "${secretFile}" }}`, read), 's3cr3t-value\n\n');
    assert.deepEqual(read, [secretFile, secretFile]);
    assert.match(failure(`{{ secret "${join(dir, 'absent')}" }}`), /^config: config\.yml: line 1: template: secret: cannot read the file .*absent \(ENOENT\)$/);
  });

  it('pipes a value as the last argument: nindent, indent, mindent with msquote', () => {
    assert.equal(render(`key: |\n  {{- fileContent "${pemFile}" | trim | nindent 4 }}\n`), 'key: |\n    -----BEGIN KEY-----\n    AAAA\n    -----END KEY-----\n');
    assert.equal(render('{{ "a\\nb" | indent 2 }}'), '  a\n  b');
    assert.equal(render(`k: {{ secret "${pemFile}" | mindent 2 "|" | msquote }}`), 'k: |\n  -----BEGIN KEY-----\n  AAAA\n  -----END KEY-----');
    assert.equal(render(`k: {{ secret "${secretFile}" | mindent 2 "|" | msquote }}`), "k: 's3cr3t-value'");
  });

  it('default gives the fallback for an empty value, the value otherwise', () => {
    assert.equal(render('{{ env "NOPE" | default "fallback" }}'), 'fallback');
    assert.equal(render('{{ default "fallback" (env "DOMAIN") }}'), 'example.com');
    assert.equal(render('{{ default "x" }}'), 'x');
    assert.equal(render('{{ empty "" }} {{ empty "a" }}'), 'true false');
  });

  it('string functions behave as Authelia’s', () => {
    const cases: [string, string][] = [
      ['{{ splitList "," "a,b,c" | join "-" }}', 'a-b-c'],
      ['{{ list "b" "a" | sortAlpha | join "," }}', 'a,b'],
      ['{{ contains "amp" "example" }} {{ hasPrefix "ex" "example" }} {{ hasSuffix "x" "example" }}', 'true true false'],
      ['{{ lower "AbC" }} {{ upper "aBc" }} {{ title "ab" }}', 'abc ABC AB'],
      ['[{{ trim "  a b \\n" }}] [{{ trimAll "$" "$$a$" }}] [{{ trimSuffix ".com" "a.com" }}] [{{ trimPrefix "www." "www.a" }}]', '[a b] [a] [a] [a]'],
      ['{{ replace "." "-" "a.b.c" }}', 'a-b-c'],
      ['{{ quote "a\\"b" }} {{ squote "a" }} {{ quote "x" "y" }}', '"a\\"b" \'a\' "x" "y"'],
      ['{{ "a\\nb" | mquote }}|{{ "a" | mquote }}', 'a\nb|"a"'],
      ['{{ b64enc "hello" }} {{ b64dec "aGVsbG8=" }}', 'aGVsbG8= hello'],
      ['{{ b32enc "hello" }} {{ b32dec "NBSWY3DP" }}', 'NBSWY3DP hello'],
      ['{{ sha256sum "abc" }}', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
      ['{{ sha1sum "abc" }}', 'a9993e364706816aba3e25717850c26c9cd0d89d'],
      ['{{ urlquery "a b&c" }} {{ urlunquery "a+b%26c" }} {{ urlqueryarg "https://x/?k=v" "k" }}', 'a+b%26c a b&c v'],
      ['{{ base "/a/b.yml" }} {{ dir "/a/b.yml" }} {{ ext "b.yml" }} {{ clean "/a/../b/" }} {{ isAbs "/a" }}', 'b.yml /a .yml /b true'],
      ['{{ `raw \\n` }}', 'raw \\n'],
      ['{{ 42 }} {{ true }}', '42 true'],
    ];
    for (const [template, expected] of cases) assert.equal(render(template), expected, template);
    assert.match(render('{{ uuidv4 }}'), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('{{- and -}} trim the white space before and after; comments print nothing', () => {
    assert.equal(render('a:   \n  {{- "x" -}}  \n  b'), 'a:xb');
    assert.equal(render('a: {{/* a comment */}}1'), 'a: 1');
    assert.equal(render('a:\n{{- /* gone */ -}}\n 1'), 'a:1');
    assert.equal(render('{{-3}}'), '-3');
  });

  it('if / else if / else / end on a simple value', () => {
    const t = '{{ if env "DOMAIN" }}yes{{ else }}no{{ end }} {{ if env "NOPE" }}a{{ else if eq (env "DOMAIN") "example.com" }}b{{ else }}c{{ end }} {{ if not (env "NOPE") }}n{{ end }}';
    assert.equal(render(t), 'yes b n');
  });

  it('refuses an unknown function, even in a branch not taken, naming the file and line', () => {
    assert.equal(failure('a: 1\nb: {{ exec "rm" }}'), "config: config.yml: line 2: template: unknown function 'exec'");
    assert.equal(failure('{{ if false }}\n{{ shell "x" }}{{ end }}'), "config: config.yml: line 2: template: unknown function 'shell'");
    assert.match(failure('{{ split "," "a,b" }}'), /'split' is not supported .*use 'splitList'/);
    assert.equal(failure('{{ now }}'), "config: config.yml: line 1: template: the function 'now' is not supported in Gatehouse's configuration templates");
  });

  it('refuses what it does not evaluate: range, variables, fields, unclosed actions, bad arguments', () => {
    assert.equal(failure('x\n{{ range (list 1) }}{{ end }}'), "config: config.yml: line 2: template: 'range' is not supported in Gatehouse's configuration templates (only if, else and end)");
    assert.match(failure('{{ $x := 1 }}'), /line 1: template: fields and variables/);
    assert.match(failure('{{ .Values }}'), /line 1: template: fields and variables/);
    assert.match(failure('a\nb: {{ env "X" '), /^config: config\.yml: line 2: template: an action opened with '\{\{' is not closed/);
    assert.match(failure('{{ if true }}x'), /line 1: template: this 'if' has no 'end'/);
    assert.match(failure('{{ end }}'), /line 1: template: 'end' without an 'if'/);
    assert.match(failure('{{ env "A" "B" }}'), /line 1: template: env: takes 1 argument, not 2/);
    assert.match(failure('{{ "a" "b" }}'), /line 1: template: only a function can be given arguments/);
    assert.match(failure('{{ indent "x" "y" }}'), /indent: argument 1 must be a whole number/);
    assert.match(failure('{{ b64dec "***" }}'), /b64dec: the input is not base64/);
  });
});

describe('the filter variables', () => {
  it('reads X_AUTHELIA_CONFIG_FILTERS or GATEHOUSE_CONFIG_FILTERS and refuses an unknown filter', () => {
    const problems: ConfigProblem[] = [];
    assert.deepEqual(configFilters({ X_AUTHELIA_CONFIG_FILTERS: 'template' }, problems), ['template']);
    assert.deepEqual(configFilters({ GATEHOUSE_CONFIG_FILTERS: 'expand-env,template' }, problems), ['expand-env', 'template']);
    assert.deepEqual(configFilters({}, problems), []);
    assert.equal(problems.length, 0);
    assert.deepEqual(configFilters({ GATEHOUSE_CONFIG_FILTERS: 'templates' }, problems), []);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!.message, /'templates' is not a filter/);
  });

  it('expand-env then template run in the order given', () => {
    const out = applyConfigFilters('a: $DOMAIN {{ upper "x" }}', 'c.yml', ['expand-env', 'template'], { env, filesRead: [] });
    assert.equal(out, 'a: example.com X');
  });
});
