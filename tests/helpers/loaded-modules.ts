/**
 * Preloaded with `--import` into a process under test: when it exits, writes every module it loaded
 * (file URLs of imported and required files, and Node's own internal modules) as JSON to the file
 * named by $LOADED_MODULES_REPORT. Read it back with readLoadedModules.
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { registerHooks } from 'node:module';

export interface LoadedModules {
  /** Every file:// URL loaded, through import or require. */
  urls: string[];
  /** process.moduleLoadList: Node's internal modules and bindings. */
  internal: string[];
}

const target = process.env.LOADED_MODULES_REPORT;
if (target) {
  const loaded = new Set<string>();
  registerHooks({
    load(url, context, next) {
      loaded.add(url);
      return next(url, context);
    },
  });
  process.on('exit', () => {
    // undocumented but long-standing: the internal modules and bindings loaded so far
    const internal = (process as unknown as { moduleLoadList: string[] }).moduleLoadList;
    const report: LoadedModules = { urls: [...loaded], internal: [...internal] };
    writeFileSync(target, JSON.stringify(report));
  });
}

export async function readLoadedModules(path: string): Promise<LoadedModules> {
  return JSON.parse(await readFile(path, 'utf8')) as LoadedModules;
}

/** The npm packages among `urls` (`pg`, `@xterm/xterm`…), each once. */
export function packagesIn(urls: string[]): Set<string> {
  const names = new Set<string>();
  for (const url of urls) {
    const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (match) names.add(match[1]!);
  }
  return names;
}
