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
  /**
   * PutEvaluations only: a request carrying an annotation longer than this many UTF-8 bytes is
   * refused whole with ValidationException, as Config refuses a request for one invalid member.
   */
  maxAnnotationBytes?: number;
  /**
   * A request-rate token bucket, as EC2 throttles its API: every request the other faults let
   * through takes one token, and a request that finds less than one token is throttled and
   * takes none. The bucket starts at `set`; under `*` it is one bucket shared by every operation.
   */
  tokenBucket?: TokenBucketSpec;
}

export interface TokenBucketSpec {
  /** Tokens the bucket holds at most: a whole number, at least 1. */
  capacity: number;
  /** Tokens added per second, up to `capacity`; 0 for a bucket that never refills. */
  refillPerSecond: number;
  /** Tokens when the bucket starts, 0 to `capacity`; `capacity` (a rested bucket) unless given. */
  initial?: number;
}

export type FaultOutcome = 'throttle' | 'server-error' | 'unavailable' | undefined;

const FAULT_KEYS: ReadonlySet<string> = new Set([
  'throttleEvery',
  'throttleNext',
  'serverErrorNext',
  'unavailableNext',
  'latencyMs',
  'failEvaluationsEvery',
  'maxAnnotationBytes',
  'tokenBucket',
]);

const BUCKET_KEYS: ReadonlySet<string> = new Set(['capacity', 'refillPerSecond', 'initial']);

/** Tokens refill continuously: `tokens` as of `at` (milliseconds on the Faults clock). */
interface BucketState {
  readonly spec: Readonly<TokenBucketSpec>;
  tokens: number;
  at: number;
}

interface FaultState {
  spec: FaultSpec;
  remainingThrottles: number;
  remainingServerErrors: number;
  remainingUnavailable: number;
  requests: number;
  evaluations: number;
  bucket: BucketState | undefined;
}

export interface FaultsOptions {
  /** Milliseconds, monotonic: the token buckets' clock. `performance.now` unless given. */
  now?: () => number;
}

/**
 * Faults keyed by `service:Operation` (e.g. `ec2:DescribeInstances`), or `*` for every
 * operation; a specific key wins over `*`. One-shot counts (`...Next`) are consumed in the
 * order throttle, server error, unavailable; then `throttleEvery`, then the token bucket.
 */
export class Faults {
  readonly #states = new Map<string, FaultState>();
  readonly #now: () => number;

  constructor(options: FaultsOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
  }

  set(operation: string, spec: FaultSpec): void {
    for (const key of Object.keys(spec)) {
      if (!FAULT_KEYS.has(key)) throw new EmulatorUsageError(`unknown fault option '${key}' for ${operation}`);
    }
    const { tokenBucket, ...counts } = spec;
    for (const [key, value] of Object.entries(counts)) {
      if (value !== undefined && (!Number.isInteger(value) || (value as number) < 0)) {
        throw new EmulatorUsageError(`fault option '${key}' must be a non-negative integer, got ${String(value)}`);
      }
    }
    const bucket = tokenBucket === undefined ? undefined : validBucket(operation, tokenBucket);
    this.#states.set(operation, {
      spec: { ...counts, ...(bucket === undefined ? {} : { tokenBucket: bucket }) },
      remainingThrottles: spec.throttleNext ?? 0,
      remainingServerErrors: spec.serverErrorNext ?? 0,
      remainingUnavailable: spec.unavailableNext ?? 0,
      requests: 0,
      evaluations: 0,
      bucket: bucket === undefined ? undefined : { spec: bucket, tokens: bucket.initial ?? bucket.capacity, at: this.#now() },
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
    if (state === undefined) return undefined;
    const { tokenBucket, ...counts } = state.spec;
    return { ...counts, ...(tokenBucket === undefined ? {} : { tokenBucket: { ...tokenBucket } }) };
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
    if (state.bucket !== undefined && !this.#takeToken(state.bucket)) return 'throttle';
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

  /** The injected annotation limit for PutEvaluations, in UTF-8 bytes; undefined when none. */
  maxAnnotationBytes(operation: string): number | undefined {
    return this.#stateFor(operation)?.spec.maxAnnotationBytes;
  }

  #stateFor(operation: string): FaultState | undefined {
    return this.#states.get(operation) ?? this.#states.get('*');
  }

  #takeToken(bucket: BucketState): boolean {
    const now = this.#now();
    const { capacity, refillPerSecond } = bucket.spec;
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * refillPerSecond);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

function validBucket(operation: string, value: unknown): Readonly<TokenBucketSpec> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EmulatorUsageError(`fault option 'tokenBucket' for ${operation} must be an object, got ${String(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!BUCKET_KEYS.has(key)) throw new EmulatorUsageError(`unknown tokenBucket option '${key}' for ${operation}`);
  }
  const { capacity, refillPerSecond, initial } = value as Partial<Record<keyof TokenBucketSpec, unknown>>;
  if (typeof capacity !== 'number' || !Number.isInteger(capacity) || capacity < 1) {
    throw new EmulatorUsageError(`tokenBucket.capacity for ${operation} must be a whole number of at least 1, got ${String(capacity)}`);
  }
  if (typeof refillPerSecond !== 'number' || !Number.isFinite(refillPerSecond) || refillPerSecond < 0) {
    throw new EmulatorUsageError(`tokenBucket.refillPerSecond for ${operation} must be a finite number of at least 0, got ${String(refillPerSecond)}`);
  }
  if (initial !== undefined && (typeof initial !== 'number' || !Number.isFinite(initial) || initial < 0 || initial > capacity)) {
    throw new EmulatorUsageError(`tokenBucket.initial for ${operation} must be a number from 0 to capacity (${capacity}), got ${String(initial)}`);
  }
  return Object.freeze({ capacity, refillPerSecond, ...(initial === undefined ? {} : { initial }) });
}
