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
  readonly problems: string[];
  constructor(problems: string[]) {
    super('config_invalid', problems.join('\n'));
    this.problems = problems;
  }
}
