// Preloaded with `--import` into a process under test: when it exits, writes Node's internal modules
// it loaded (process.moduleLoadList) as JSON to the file named by $INTERNAL_MODULES_FILE.
// JavaScript, not TypeScript: a .ts preload would itself make Node load its TypeScript stripper.
import { writeFileSync } from 'node:fs';

const target = process.env.INTERNAL_MODULES_FILE;
if (target) process.on('exit', () => writeFileSync(target, JSON.stringify(process.moduleLoadList)));
