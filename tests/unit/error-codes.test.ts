/**
 * Errors have a closed set of codes (lib/errors.ts), each explained in the README's `## Errors`
 * section for the operator who meets it; every error Gatehouse throws carries one of them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ERROR_CODES, GatehouseError, unavailableMessage } from '../../lib/errors.ts';
import { SessionStoreUnavailable } from '../../gateway/session/store.ts';
import { StorageError } from '../../gateway/storage/errors.ts';
import { repoPath, repoRoot } from '../helpers/repo.ts';

/** The codes the README's `## Errors` section lists, one line each: "- `code` — …". */
function documentedCodes(): string[] {
  const readme = readFileSync(repoPath('README.md'), 'utf8');
  const start = readme.indexOf('\n## Errors\n');
  assert.notEqual(start, -1, 'the README has a "## Errors" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/^- `([^`]+)` — \S/gm)].map((match) => match[1]!);
}

describe('error codes: one closed list, each documented in the README', () => {
  it('no code is listed twice', () => {
    assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length);
  });

  it('every code is explained in the README, and the README lists no other', () => {
    const documented = documentedCodes();
    assert.deepEqual(documented.filter((code) => !(ERROR_CODES as readonly string[]).includes(code)), [], 'listed in the README, but no such code');
    assert.deepEqual(ERROR_CODES.filter((code) => !documented.includes(code)), [], 'codes the README does not explain');
    assert.equal(new Set(documented).size, documented.length, 'a code explained twice');
  });
});

describe('every error Gatehouse throws extends GatehouseError', () => {
  /** TypeScript sources of the gateway, the monitor (not its browser code in monitor/web/) and lib/. */
  function sources(): string[] {
    return ['gateway', 'monitor', 'lib']
      .flatMap((folder) => readdirSync(repoPath(folder), { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
        .map((entry) => relative(repoRoot, join(entry.parentPath, entry.name))))
      .filter((file) => !file.startsWith(join('monitor', 'web')));
  }

  it('reads the sources (the check below sees something)', () => {
    const files = sources();
    assert.ok(files.length > 100, `only ${files.length} files`);
    assert.ok(files.includes(join('lib', 'errors.ts')));
  });

  it('no plain Error is made and no class extends Error, except GatehouseError itself', () => {
    const found: string[] = [];
    for (const file of sources()) {
      readFileSync(repoPath(file), 'utf8').split('\n').forEach((line, index) => {
        if (/\bnew Error\(|\bextends Error\b/.test(line) && !/^export class GatehouseError extends Error \{$/.test(line)) found.push(`${file}:${index + 1}: ${line.trim()}`);
      });
    }
    assert.deepEqual(found, []);
  });
});

describe('unavailableMessage: a backend that did not answer is named by its code, in one place', () => {
  it('the session store and an unreachable database get their 503 sentence', () => {
    assert.equal(unavailableMessage(new SessionStoreUnavailable(null)), 'Sessions are unavailable, try again shortly.');
    assert.equal(unavailableMessage(new StorageError('unreachable', 'storage: could not ping: the database did not answer')), 'The database is unavailable, try again shortly.');
  });

  it('any other error, a storage error included, is no outage (a 500, logged)', () => {
    assert.equal(unavailableMessage(new StorageError('query_failed', 'storage: could not read')), null);
    assert.equal(unavailableMessage(new StorageError('closed', 'storage: the database is closed')), null);
    assert.equal(unavailableMessage(new GatehouseError('internal_error', 'a bug')), null);
    assert.equal(unavailableMessage(Object.assign(new TypeError('x'), { code: 'unreachable' })), null, 'only a GatehouseError carries a code from the list');
    assert.equal(unavailableMessage('unreachable'), null);
  });
});
