import { EmulatorUsageError } from './errors.ts';

export interface FaultSpec {
  /** Throttle every n-th request to the operation (the n-th, 2n-th, ... since `set`). */
  throttleEvery?: number;
  /** Throttle the next n requests. */
  throttleNext?: number;
  /** Answer the next n requests with a 500 internal error. */
  serverErrorNext?: number;
  /** Answer the next n requests with a 503 "unavailable" error. */
  unavailableNext?: number;
  /** Delay every response to the operation by this many milliseconds. */
  latencyMs?: number;
  /** PutEvaluations only: every n-th evaluation goes to FailedEvaluations instead of being recorded. */
  failEvaluationsEvery?: number;
}

export type FaultOutcome = 'throttle' | 'server-error' | 'unavailable' | undefined;

const FAULT_KEYS: ReadonlySet<string> = new Set([
  'throttleEvery',
  'throttleNext',
  'serverErrorNext',
  'unavailableNext',
  'latencyMs',
  'failEvaluationsEvery',
]);

interface FaultState {
  spec: FaultSpec;
  remainingThrottles: number;
  remainingServerErrors: number;
  remainingUnavailable: number;
  requests: number;
  evaluations: number;
}

/**
 * Faults keyed by `service:Operation` (e.g. `ec2:DescribeInstances`), or `*` for every
 * operation; a specific key wins over `*`. One-shot counts (`...Next`) are consumed in the
 * order throttle, server error, unavailable.
 */
export class Faults {
  readonly #states = new Map<string, FaultState>();

  set(operation: string, spec: FaultSpec): void {
    for (const key of Object.keys(spec)) {
      if (!FAULT_KEYS.has(key)) throw new EmulatorUsageError(`unknown fault option '${key}' for ${operation}`);
    }
    for (const [key, value] of Object.entries(spec)) {
      if (value !== undefined && (!Number.isInteger(value) || (value as number) < 0)) {
        throw new EmulatorUsageError(`fault option '${key}' must be a non-negative integer, got ${String(value)}`);
      }
    }
    this.#states.set(operation, {
      spec: { ...spec },
      remainingThrottles: spec.throttleNext ?? 0,
      remainingServerErrors: spec.serverErrorNext ?? 0,
      remainingUnavailable: spec.unavailableNext ?? 0,
      requests: 0,
      evaluations: 0,
    });
  }

  delete(operation: string): void {
    this.#states.delete(operation);
  }

  clear(): void {
    this.#states.clear();
  }

  get(operation: string): FaultSpec | undefined {
    const state = this.#stateFor(operation);
    return state === undefined ? undefined : { ...state.spec };
  }

  latencyMs(operation: string): number {
    return this.#stateFor(operation)?.spec.latencyMs ?? 0;
  }

  /** Called once per request; decides whether this request fails before reaching the handler. */
  nextOutcome(operation: string): FaultOutcome {
    const state = this.#stateFor(operation);
    if (state === undefined) return undefined;
    state.requests++;
    if (state.remainingThrottles > 0) {
      state.remainingThrottles--;
      return 'throttle';
    }
    if (state.remainingServerErrors > 0) {
      state.remainingServerErrors--;
      return 'server-error';
    }
    if (state.remainingUnavailable > 0) {
      state.remainingUnavailable--;
      return 'unavailable';
    }
    const every = state.spec.throttleEvery;
    if (every !== undefined && every > 0 && state.requests % every === 0) return 'throttle';
    return undefined;
  }

  /** Called once per evaluation in a PutEvaluations request. */
  failEvaluation(operation: string): boolean {
    const state = this.#stateFor(operation);
    const every = state?.spec.failEvaluationsEvery;
    if (state === undefined || every === undefined || every === 0) return false;
    state.evaluations++;
    return state.evaluations % every === 0;
  }

  #stateFor(operation: string): FaultState | undefined {
    return this.#states.get(operation) ?? this.#states.get('*');
  }
}
