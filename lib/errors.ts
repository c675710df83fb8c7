import { renderProblem, type ConfigProblem } from './config-problems.ts';

/** Base class for every error Gatehouse raises on purpose: callers branch on `code`, never on text. */
export class GatehouseError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The configuration (or a file it points at) is unusable; the message is fit for the operator. */
export class ConfigError extends GatehouseError {
  /** Each problem as the operator reads it: `config: <path>: <message>` for a configuration's. */
  readonly problems: string[];
  /** The configuration's problems as data (path, message, severity); a problem given as a line has none. */
  readonly details: readonly ConfigProblem[];
  constructor(problems: readonly (ConfigProblem | string)[]) {
    const lines = problems.map((problem) => (typeof problem === 'string' ? problem : renderProblem(problem)));
    super('config_invalid', lines.join('\n'));
    this.problems = lines;
    this.details = problems.filter((problem) => typeof problem !== 'string');
  }
}
