import type { Emulator } from '../emulator/index.ts';

export interface BucketSpec {
  readonly capacity: number;
  readonly refillPerSecond: number;
  /** Tokens at the start; `capacity` (a rested account) unless given. */
  readonly initial?: number;
}

/** EC2's documented request-rate buckets for the calls the functions make (shared/AWS-FACTS.md). */
export const EC2_BUCKETS = {
  'ec2:DescribeInstances': { capacity: 100, refillPerSecond: 20 },
  'ec2:ModifyInstanceMetadataOptions': { capacity: 100, refillPerSecond: 5 },
} as const satisfies Record<string, BucketSpec>;

/** A token bucket as EC2 runs it: a throttled request takes no token. */
export class TokenBucket {
  readonly #spec: BucketSpec;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(spec: BucketSpec, now: () => number = () => performance.now()) {
    this.#spec = spec;
    this.#now = now;
    this.#tokens = spec.initial ?? spec.capacity;
    this.#at = now();
  }

  take(): boolean {
    const now = this.#now();
    this.#tokens = Math.min(this.#spec.capacity, this.#tokens + ((now - this.#at) / 1000) * this.#spec.refillPerSecond);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/**
 * Puts token buckets in front of operations of a running emulator. The emulator's faults have
 * no rate limit of their own, so this wraps `faults.nextOutcome` (called once per request,
 * after the injected latency): a request the bucket refuses is answered, and counted, as the
 * emulator's own injected throttle (`RequestLimitExceeded` for EC2). Returns the undo.
 */
export function installTokenBuckets(emulator: Emulator, specs: Readonly<Record<string, BucketSpec>>): () => void {
  const faults = emulator.faults;
  const buckets = new Map(Object.entries(specs).map(([operation, spec]) => [operation, new TokenBucket(spec)]));
  const original = faults.nextOutcome;
  faults.nextOutcome = function nextOutcome(operation) {
    const outcome = original.call(faults, operation);
    if (outcome !== undefined) return outcome;
    return buckets.get(operation)?.take() === false ? 'throttle' : undefined;
  };
  return () => {
    faults.nextOutcome = original;
  };
}
