/**
 * The module picture: the gateway and the monitor never import each other, lib/ imports neither,
 * nothing imports in a circle (type-only imports included), and no folder inside a service reaches
 * up into the service's own top-level files (its composition root and entry points), except the
 * command line, which is an entry point itself.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE_FOLDERS = ['bin', 'gateway', 'lib', 'monitor'];

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

/** Every relative import of a file, static or dynamic, value or type, as a path from the repository root. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? m[2]!);
  return specifiers.map((specifier) => relative(ROOT, resolve(dirname(join(ROOT, file)), specifier)));
}

const graph = new Map(SOURCE_FOLDERS.flatMap(sourceFiles).map((file) => [file, importsOf(file)]));
const topFolder = (file: string) => file.split('/')[0];

describe('module layers', () => {
  it('finds the source files and their imports (the check below reads something)', () => {
    assert.ok(graph.size > 100, `only ${graph.size} files found`);
    assert.ok(graph.get('bin/gatehouse.ts')?.some((target) => target.startsWith('monitor/')));
  });

  it('the gateway and the monitor never import each other, and lib/ imports neither', () => {
    const crossings: string[] = [];
    for (const [file, targets] of graph) {
      for (const target of targets) {
        const from = topFolder(file);
        const to = topFolder(target);
        const allowed = target === 'package.json' || from === 'bin' || from === to || to === 'lib' || (to === 'node_modules' && from !== 'lib');
        if (!allowed) crossings.push(`${file} -> ${target}`);
      }
    }
    assert.deepEqual(crossings, []);
  });

  it('no file imports itself through a circle of imports', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const path: string[] = [];
    const visit = (file: string) => {
      state.set(file, 'open');
      path.push(file);
      for (const target of graph.get(file) ?? []) {
        if (!graph.has(target)) continue;
        if (state.get(target) === 'open') cycles.push([...path.slice(path.indexOf(target)), target].join(' -> '));
        else if (!state.has(target)) visit(target);
      }
      path.pop();
      state.set(file, 'done');
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file);
    assert.deepEqual(cycles, []);
  });

  it("no folder inside a service imports the service's top-level files, except its command line", () => {
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      const parts = file.split('/');
      if (parts.length < 3 || parts[0] === 'lib' || parts[1] === 'cli') continue;
      for (const target of targets) {
        const targetParts = target.split('/');
        if (targetParts.length === 2 && targetParts[0] === parts[0]) upward.push(`${file} -> ${target}`);
      }
    }
    assert.deepEqual(upward, []);
  });
});
