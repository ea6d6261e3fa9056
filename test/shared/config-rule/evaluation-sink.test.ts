// One evaluation AWS Config refuses never stops the others: the sink splits the refused batch,
// delivers the rest, sends the culprit again with a fallback annotation, and names what it
// could not deliver at the end.
import { ConfigServiceClient, PutEvaluationsCommand, type Evaluation, type PutEvaluationsCommandInput } from '@aws-sdk/client-config-service';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  EvaluationRejectedError,
  EvaluationSink,
  FALLBACK_ANNOTATION,
} from '../../../functions/shared/config-rule/evaluation-sink.ts';

const configMock = mockClient(ConfigServiceClient);
const AT = new Date('2026-11-27T12:00:00Z');

function evaluations(count: number, annotate: (i: number) => string = () => 'fine'): Evaluation[] {
  return Array.from({ length: count }, (_, i) => ({
    ComplianceResourceType: 'AWS::EC2::Instance',
    ComplianceResourceId: `i-${i.toString(16).padStart(17, '0')}`,
    ComplianceType: 'NON_COMPLIANT',
    Annotation: annotate(i),
    OrderingTimestamp: AT,
  }));
}

function validationError(message: string): Error {
  return Object.assign(new Error(message), { name: 'ValidationException', $fault: 'client', $metadata: { httpStatusCode: 400 } });
}

/** What Config recorded, by resource id: as it does, a request with one invalid member records nothing. */
let recorded: Map<string, string | undefined>;

function configRefusing(isInvalid: (evaluation: Evaluation) => boolean): void {
  configMock.on(PutEvaluationsCommand).callsFake((input: PutEvaluationsCommandInput) => {
    const bad = input.Evaluations?.find(isInvalid);
    if (bad !== undefined) throw validationError(`1 validation error detected: Value at '${bad.ComplianceResourceId}' failed to satisfy constraint`);
    for (const e of input.Evaluations ?? []) recorded.set(e.ComplianceResourceId!, e.Annotation);
    return { FailedEvaluations: [] };
  });
}

function aSink(): EvaluationSink {
  return new EvaluationSink({ config: new ConfigServiceClient({ region: 'us-east-1' }), resultToken: 'token', testMode: false });
}

async function deliverAll(sink: EvaluationSink, all: readonly Evaluation[]): Promise<unknown> {
  for (const e of all) await sink.add(e);
  return sink.flush().then(
    () => undefined,
    (error: unknown) => error,
  );
}

beforeEach(() => {
  configMock.reset();
  recorded = new Map();
});

describe('EvaluationSink: a batch Config refuses for its content', () => {
  it('delivers the 99 others, and the culprit with the fallback annotation, in a logarithmic number of calls', async () => {
    const all = evaluations(100, (i) => (i === 37 ? 'BAD' : 'fine'));
    configRefusing((e) => e.Annotation === 'BAD');
    const sink = aSink();

    expect(await deliverAll(sink, all)).toBeUndefined();

    expect(recorded.size).toBe(100);
    expect(recorded.get(all[37]!.ComplianceResourceId!)).toBe(FALLBACK_ANNOTATION);
    expect([...recorded.values()].filter((a) => a === 'fine')).toHaveLength(99);
    expect(sink.counts.NON_COMPLIANT).toBe(100);
    expect(sink.replaced).toEqual([
      { resourceType: 'AWS::EC2::Instance', resourceId: all[37]!.ComplianceResourceId, annotation: 'BAD', reason: expect.stringMatching(/^ValidationException: /) },
    ]);
    // 1 refused call, then two halves per level down to the culprit (7 levels), then its fallback.
    expect(configMock.commandCalls(PutEvaluationsCommand).length).toBeLessThanOrEqual(1 + 2 * 7 + 1);
  });

  it('names, after every other evaluation was delivered, the one Config refuses even with the fallback', async () => {
    const all = evaluations(250);
    const poisoned = all[120]!.ComplianceResourceId!;
    configRefusing((e) => e.ComplianceResourceId === poisoned);
    const sink = aSink();

    const error = await deliverAll(sink, all);

    expect(error).toBeInstanceOf(EvaluationRejectedError);
    expect((error as EvaluationRejectedError).rejected.map((r) => r.resourceId)).toEqual([poisoned]);
    expect((error as Error).message).toMatch(
      new RegExp(`^AWS Config refused 1 evaluation\\(s\\), even with a fallback annotation; every other evaluation was delivered: ${poisoned} \\(ValidationException: `),
    );
    expect(recorded.size).toBe(249);
    expect(recorded.has(poisoned)).toBe(false);
  });

  it('does not split on errors that are not about the content', async () => {
    configMock.on(PutEvaluationsCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const error = await deliverAll(aSink(), evaluations(100));
    expect(error).toMatchObject({ name: 'ThrottlingException' });
    expect(configMock.commandCalls(PutEvaluationsCommand)).toHaveLength(1);
  });

  it('stops, instead of splitting forever, when Config refuses every evaluation', async () => {
    configRefusing(() => true);
    const error = await deliverAll(aSink(), evaluations(300));
    expect(error).toBeInstanceOf(EvaluationRejectedError);
    expect((error as Error).message).toContain('delivery stopped (not a few bad evaluations, a fault of them all)');
    expect(recorded.size).toBe(0);
    // Each refusal costs about three calls to find and retry; the stop comes after 51 of them.
    expect(configMock.commandCalls(PutEvaluationsCommand).length).toBeLessThan(400);
  });
});
