/** Helpers shared by the configuration tests: a temp directory with YAML files in it. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../../../lib/errors.ts';
import { loadGatewayConfig, type LoadedConfig } from '../../../gateway/config/load.ts';
import { makeTempDir } from '../../helpers/tmp.ts';

/** The smallest configuration that validates without warnings; `{dir}` is replaced by the temp directory. */
export const MINIMAL_CONFIG = `
authentication_backend:
  file:
    path: '{dir}/users.yml'
access_control:
  default_policy: one_factor
session:
  cookies:
    - domain: example.com
      authelia_url: https://auth.example.com
storage:
  encryption_key: Xq7vR2mLp9TzW4nB8cYd3JfH6sKa5GuE
  local:
    path: '{dir}/db.sqlite3'
`;

export interface ConfigDir {
  dir: string;
  /** Writes `name` (with `{dir}` expanded) and returns its path. */
  write(name: string, yaml: string): Promise<string>;
  /** Loads the files with exactly this environment (never the test runner's). */
  load(files: string[], env?: NodeJS.ProcessEnv): LoadedConfig;
  /** Loads and expects a ConfigError; returns its problems. */
  problems(files: string[], env?: NodeJS.ProcessEnv): string[];
  cleanup(): Promise<void>;
}

export async function makeConfigDir(): Promise<ConfigDir> {
  const { dir, cleanup } = await makeTempDir('gatehouse-config-');
  const load = (files: string[], env: NodeJS.ProcessEnv = {}) => loadGatewayConfig({ files, env });
  return {
    dir,
    cleanup,
    load,
    async write(name, yaml) {
      const path = join(dir, name);
      await writeFile(path, yaml.replaceAll('{dir}', dir));
      return path;
    },
    problems(files, env = {}) {
      try {
        load(files, env);
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      throw new Error('expected the configuration to be rejected, but it loaded');
    },
  };
}
