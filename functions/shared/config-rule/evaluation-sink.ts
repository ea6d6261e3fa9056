import { PutEvaluationsCommand, type ConfigServiceClient, type Evaluation } from '@aws-sdk/client-config-service';
import { sleep } from '../ec2.ts';
import type { ComplianceType } from './rule.ts';

/** PutEvaluations accepts at most this many evaluations a call. */
const MAX_EVALUATIONS_PER_CALL = 100;

export class EvaluationDeliveryError extends Error {
  override readonly name = 'EvaluationDeliveryError';
  readonly undelivered: readonly string[];

  constructor(undelivered: readonly string[], attempts: number) {
    const shown = undelivered.slice(0, 10).join(', ');
    const more = undelivered.length > 10 ? ` and ${undelivered.length - 10} more` : '';
    super(`AWS Config did not accept ${undelivered.length} evaluation(s) after ${attempts} attempts: ${shown}${more}`);
    this.undelivered = undelivered;
  }
}

export interface SinkOptions {
  readonly config: Pick<ConfigServiceClient, 'send'>;
  readonly resultToken: string;
  readonly testMode: boolean;
  /** PutEvaluations calls in flight at once. */
  readonly maxInFlight?: number;
  /** Attempts for evaluations Config lists in FailedEvaluations (the SDK retries errors itself). */
  readonly maxAttempts?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Streams evaluations to AWS Config in full batches of 100 with bounded concurrency:
 * `add` waits only when the in-flight limit is reached, so producers keep reading pages
 * while earlier batches are being delivered, and memory holds at most maxInFlight batches.
 */
export class EvaluationSink {
  readonly counts: Record<ComplianceType, number> = { COMPLIANT: 0, NON_COMPLIANT: 0, NOT_APPLICABLE: 0 };
  private buffer: Evaluation[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  private readonly maxInFlight: number;
  private readonly maxAttempts: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly options: SinkOptions;

  constructor(options: SinkOptions) {
    this.options = options;
    this.maxInFlight = options.maxInFlight ?? 10;
    this.maxAttempts = options.maxAttempts ?? 4;
    this.sleep = options.sleep ?? sleep;
  }

  async add(evaluation: Evaluation): Promise<void> {
    this.throwIfFailed();
    this.buffer.push(evaluation);
    if (this.buffer.length >= MAX_EVALUATIONS_PER_CALL) await this.dispatch();
  }

  /** Sends what is buffered and waits for every batch; throws the first delivery failure. */
  async flush(): Promise<void> {
    if (this.buffer.length > 0) await this.dispatch();
    await Promise.allSettled([...this.inFlight]);
    this.throwIfFailed();
  }

  /**
   * Waits for the batches already sent, without sending more: after a failure, so the
   * invocation does not return (and Lambda freeze) with requests still in flight.
   */
  async settle(): Promise<void> {
    this.buffer = [];
    await Promise.allSettled([...this.inFlight]);
  }

  private async dispatch(): Promise<void> {
    const batch = this.buffer;
    this.buffer = [];
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
    this.throwIfFailed();
    const sending: Promise<void> = this.deliver(batch)
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => this.inFlight.delete(sending));
    this.inFlight.add(sending);
  }

  private async deliver(batch: Evaluation[]): Promise<void> {
    let pending = batch;
    for (let attempt = 1; ; attempt++) {
      const response = await this.options.config.send(
        new PutEvaluationsCommand({
          ResultToken: this.options.resultToken,
          Evaluations: pending,
          ...(this.options.testMode ? { TestMode: true } : {}),
        }),
      );
      const failed = response.FailedEvaluations ?? [];
      const failedKeys = new Set(failed.map(key));
      for (const evaluation of pending) {
        if (!failedKeys.has(key(evaluation))) this.counts[evaluation.ComplianceType as ComplianceType]++;
      }
      if (failed.length === 0) return;
      pending = pending.filter((evaluation) => failedKeys.has(key(evaluation)));
      // Config named evaluations this batch did not carry: nothing of ours is left to retry.
      if (pending.length === 0) return;
      if (attempt >= this.maxAttempts) {
        throw new EvaluationDeliveryError(pending.map((e) => e.ComplianceResourceId ?? '?'), attempt);
      }
      await this.sleep(100 * 2 ** (attempt - 1));
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

function key(evaluation: Evaluation): string {
  return `${evaluation.ComplianceResourceType}/${evaluation.ComplianceResourceId}`;
}
