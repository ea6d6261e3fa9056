/**
 * One error class per kind of failure, each with a stable `name` so callers (and Lambda's
 * error report in AWS Config) can tell them apart without parsing messages.
 */

/** The rule's InputParameters are wrong. Lists every problem at once, with the allowed values. */
export class InvalidParametersError extends Error {
  override readonly name = 'InvalidParametersError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`Invalid rule parameters: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

/** The invocation event is malformed or of a kind this function does not handle. */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`Invalid event: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

/** The function's own configuration (environment) is wrong: a deployment error. */
export class InvalidConfigurationError extends Error {
  override readonly name = 'InvalidConfigurationError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`Invalid function configuration: ${problems.join('; ')}`);
    this.problems = problems;
  }
}
