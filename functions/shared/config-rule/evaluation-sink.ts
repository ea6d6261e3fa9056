import { PutEvaluationsCommand, type ConfigServiceClient, type Evaluation } from '@aws-sdk/client-config-service';
import { cleanText } from '../sanitize.ts';
import { sleep } from '../sleep.ts';
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

/** One evaluation AWS Config refused outright, even with the fallback annotation. */
export interface RejectedEvaluation {
  readonly resourceType: string;
  readonly resourceId: string;
  /** The annotation Config refused (what the fallback points to in the log). */
  readonly annotation: string | undefined;
  /** The AWS error code and message of the last refusal. */
  readonly reason: string;
}

/**
 * Thrown by `flush` once every other evaluation was delivered: names what AWS Config refused.
 * Also thrown at once when refusals pile up past a few, which points at a fault of every
 * evaluation (not one bad one) that splitting batches cannot get past.
 */
export class EvaluationRejectedError extends Error {
  override readonly name = 'EvaluationRejectedError';
  readonly rejected: readonly RejectedEvaluation[];

  constructor(rejected: readonly RejectedEvaluation[], systemic: boolean) {
    const shown = rejected.slice(0, 10).map((r) => `${r.resourceId} (${r.reason})`).join('; ');
    super(
      systemic
        ? `AWS Config refused more than ${MAX_REFUSED} evaluations one by one: delivery stopped (not a few bad evaluations, a fault of them all). ${shown}`
        : `AWS Config refused ${rejected.length} evaluation(s), even with a fallback annotation; every other evaluation was delivered: ${shown}`,
    );
    this.rejected = rejected;
  }
}

/**
 * The errors with which PutEvaluations refuses a request over its content. The whole batch is
 * refused for one bad evaluation: splitting it finds that one and delivers the rest.
 */
const VALIDATION_ERRORS = new Set(['ValidationException', 'InvalidParameterValueException']);
/** Sent in place of an annotation Config refused: plain ASCII, short, and names where the original is. */
export const FALLBACK_ANNOTATION = 'annotation refused by AWS Config; the evaluation function log has the original';
/**
 * More single refusals than this are not a few bad evaluations but a fault of them all (each
 * costs about two calls per evaluation of its batch to find): delivery stops instead.
 */
const MAX_REFUSED = 50;

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
  /** Evaluations delivered with FALLBACK_ANNOTATION because Config refused their own (at most MAX_REFUSED). */
  readonly replaced: RejectedEvaluation[] = [];
  /** Evaluations Config refused even with the fallback. */
  readonly rejected: RejectedEvaluation[] = [];
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

  /**
   * Sends what is buffered and waits for every batch; throws the first delivery failure, then
   * (everything else being delivered) the evaluations Config refused.
   */
  async flush(): Promise<void> {
    if (this.buffer.length > 0) await this.dispatch();
    await Promise.allSettled([...this.inFlight]);
    this.throwIfFailed();
    if (this.rejected.length > 0) throw new EvaluationRejectedError(this.rejected, false);
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

  /** Delivers a batch; one Config refuses for its content is split in two until the culprit is alone. */
  private async deliver(batch: Evaluation[]): Promise<void> {
    try {
      await this.put(batch);
    } catch (error) {
      if (!isValidationError(error)) throw error;
      const [only] = batch;
      if (batch.length === 1 && only !== undefined) {
        await this.deliverWithFallback(only, error);
        return;
      }
      // One after the other: the split stays within this batch's slot of the in-flight limit.
      const half = Math.ceil(batch.length / 2);
      await this.deliver(batch.slice(0, half));
      await this.deliver(batch.slice(half));
    }
  }

  /** The lone evaluation Config refused, sent again with an annotation that cannot be the problem. */
  private async deliverWithFallback(evaluation: Evaluation, refusal: Error): Promise<void> {
    const refused = rejection(evaluation, refusal);
    if (evaluation.Annotation !== FALLBACK_ANNOTATION) {
      try {
        await this.put([{ ...evaluation, Annotation: FALLBACK_ANNOTATION }]);
        this.replaced.push(refused);
      } catch (error) {
        if (!isValidationError(error)) throw error;
        this.rejected.push(rejection(evaluation, error));
      }
    } else {
      this.rejected.push(refused);
    }
    if (this.rejected.length + this.replaced.length > MAX_REFUSED) {
      throw new EvaluationRejectedError([...this.rejected, ...this.replaced], true);
    }
  }

  /** One PutEvaluations, retrying what Config lists in FailedEvaluations. */
  private async put(batch: Evaluation[]): Promise<void> {
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

function isValidationError(error: unknown): error is Error {
  return error instanceof Error && VALIDATION_ERRORS.has(error.name);
}

function rejection(evaluation: Evaluation, error: Error): RejectedEvaluation {
  return {
    resourceType: evaluation.ComplianceResourceType ?? '?',
    resourceId: evaluation.ComplianceResourceId ?? '?',
    annotation: evaluation.Annotation === undefined ? undefined : cleanText(evaluation.Annotation, 300),
    reason: `${error.name}: ${cleanText(error.message, 200)}`,
  };
}

function key(evaluation: Evaluation): string {
  return `${evaluation.ComplianceResourceType}/${evaluation.ComplianceResourceId}`;
}
