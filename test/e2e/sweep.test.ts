import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { managedNodeGroupNode, syntheticFleet } from '../../emulator/index.ts';
import { FALLBACK_ANNOTATION } from '../../functions/shared/config-rule/evaluation-sink.ts';
import type { EvaluationSummary } from '../../functions/shared/config-rule/evaluator.ts';
import { skipWithout, startTarget, type Target } from './target.ts';

/**
 * The real evaluation handler over HTTP: SDK serialization, paging, retries and Config's
 * limits as the emulator enforces them. Fault injection needs the emulator.
 */
const NODES = 2500;
const NON_EKS = 500;

let target: Target;
let evaluate: (event: unknown) => Promise<EvaluationSummary>;
let nodeIds: string[] = [];

beforeAll(async () => {
  target = await startTarget();
  ({ handler: evaluate } = await import('../../functions/evaluate-imds/handler.ts'));
  // Every test below sweeps, and a sweep lists the rule's stored results: without them, skip the seeding too.
  if (target.missing['config-results'] !== undefined) return;
  const fleet = syntheticFleet(NODES + NON_EKS, { nonEks: NON_EKS, nonCompliantEvery: 5 });
  const ids: string[] = [];
  for (const spec of fleet) ids.push(await target.seed(spec));
  nodeIds = ids.filter((_, i) => fleet[i]!.tags?.['eks:cluster-name'] !== undefined || fleet[i]!.tags?.['alpha.eksctl.io/cluster-name'] !== undefined || fleet[i]!.tags?.['karpenter.sh/nodepool'] !== undefined);
}, 120_000);

afterAll(async () => {
  await target?.close();
});

beforeEach(() => {
  target.emulator?.faults.clear();
  target.emulator?.resetCalls();
});

let ruleCounter = 0;
const freshRule = () => `eks-imds-guard-sweep-${++ruleCounter}`;

async function sweep(ruleName: string, ruleParameters: Record<string, string> = {}, now?: Date) {
  return evaluate(target.sweepEvent(ruleParameters, ruleName, now));
}

// Fault tests sweep one node kind (a third of the fleet): the SDK's adaptive retry mode slows
// the client down after every throttle, so the full fleet under constant faults takes minutes.
const KARPENTER_ONLY = { NodeTagKeys: 'karpenter.sh/nodepool' };
const karpenterNodes = () => target.emulator!.instances().filter((i) => i.tags['karpenter.sh/nodepool'] !== undefined).length;

describe('a 2,500-node sweep over HTTP', () => {
  it('records exactly one evaluation per node at the API lower bound', async ({ skip }) => {
    skipWithout(target, 'config-results', skip);
    expect(nodeIds).toHaveLength(NODES);
    const rule = freshRule();
    const summary = await sweep(rule);

    expect(summary).toMatchObject({ swept: NODES, cleanedUp: 0, counts: { COMPLIANT: 2000, NON_COMPLIANT: 500, NOT_APPLICABLE: 0 } });
    if (target.emulator) {
      const calls = target.emulator.calls;
      expect(calls.get('ec2:DescribeInstances')).toBe(3);
      expect(calls.get('config:PutEvaluations')).toBe(25);
      // The listing of earlier results, one chain per compliance type, runs beside the sweep: on
      // a rule with no earlier results, one empty page each.
      expect(calls.get('config:GetComplianceDetailsByConfigRule')).toBe(3);
      // Beside the sweep: how the emulator's recorder (its default: everything, continuously) records instances.
      expect(calls.get('config:DescribeConfigurationRecorders')).toBe(1);
      expect(calls.get('config:DescribeConfigurationRecorderStatus')).toBe(1);
      expect(summary.recorder).toEqual([{ resourceType: 'AWS::EC2::Instance', recorder: 'default', recording: 'continuous' }]);
    }
    const results = await target.results(rule);
    expect(results.size).toBe(NODES);
    expect([...results.keys()].sort()).toEqual([...nodeIds].sort());
  });

  it('writes nothing on a second sweep of an unchanged fleet', async ({ skip }) => {
    skipWithout(target, 'config-results', skip);
    const rule = freshRule();
    await sweep(rule);
    target.emulator?.resetCalls();
    const summary = await sweep(rule);
    expect(summary).toMatchObject({ swept: NODES, unchanged: NODES, cleanedUp: 0, counts: { COMPLIANT: 0, NON_COMPLIANT: 0, NOT_APPLICABLE: 0 } });
    if (target.emulator) {
      expect(target.emulator.calls.get('config:PutEvaluations')).toBe(0);
      // What Config holds was read instead: ⌈2,000 / 100⌉ + ⌈500 / 100⌉ + 1 empty NOT_APPLICABLE page.
      expect(target.emulator.calls.get('config:GetComplianceDetailsByConfigRule')).toBe(26);
    }
    expect((await target.results(rule)).size).toBe(NODES);
  });

  it('turns results of instances gone since the last sweep NOT_APPLICABLE', async ({ skip }) => {
    skipWithout(target, 'config-results', skip);
    // Terminated instances are brought back afterwards: that needs the emulator's control API.
    skipWithout(target, 'emulator-controls', skip);
    const emulator = target.emulator!;
    const rule = freshRule();
    await sweep(rule, {}, new Date(Date.now() - 24 * 3_600_000)); // yesterday's sweep
    const gone = nodeIds.slice(0, 7);
    for (const id of gone) emulator.setInstanceState(id, 'terminated');
    try {
      const summary = await sweep(rule);
      expect(summary).toMatchObject({ swept: NODES - gone.length, cleanedUp: gone.length });
      const results = await target.results(rule);
      expect(gone.map((id) => results.get(id))).toEqual(gone.map(() => 'NOT_APPLICABLE'));
      expect([...results.values()].filter((c) => c === 'NOT_APPLICABLE')).toHaveLength(gone.length);
    } finally {
      for (const id of gone) emulator.setInstanceState(id, 'running');
    }
  });
});

describe('faults injected by the emulator', () => {
  beforeEach(({ skip }) => skipWithout(target, 'emulator-controls', skip));

  it('converges with exactly the expected evaluations when every 3rd call is throttled', async () => {
    const emulator = target.emulator!;
    emulator.faults.set('*', { throttleEvery: 3 });
    const rule = freshRule();
    const summary = await sweep(rule, KARPENTER_ONLY);

    const expected = karpenterNodes();
    expect(summary.swept).toBe(expected);
    expect(emulator.evaluations(rule)).toHaveLength(expected);
    expect(emulator.calls.get('config:PutEvaluations')).toBe(Math.ceil(expected / 100));
    expect(emulator.throttled.get('config:PutEvaluations') + emulator.throttled.get('ec2:DescribeInstances')).toBeGreaterThan(0);
  });

  it('retries partial FailedEvaluations until every evaluation is recorded', async () => {
    const emulator = target.emulator!;
    emulator.faults.set('config:PutEvaluations', { failEvaluationsEvery: 25 });
    const rule = freshRule();
    const summary = await sweep(rule);

    expect(emulator.evaluations(rule)).toHaveLength(NODES);
    expect(summary.counts).toEqual({ COMPLIANT: 2000, NON_COMPLIANT: 500, NOT_APPLICABLE: 0 });
    // 25 full batches, then retries carrying only the refused evaluations.
    expect(emulator.calls.get('config:PutEvaluations')).toBeGreaterThan(25);
  });

  it('rides out 5xx bursts on EC2 and Config', async () => {
    const emulator = target.emulator!;
    emulator.faults.set('ec2:DescribeInstances', { unavailableNext: 2 });
    emulator.faults.set('config:PutEvaluations', { serverErrorNext: 3 });
    const rule = freshRule();
    await sweep(rule);

    expect(emulator.evaluations(rule)).toHaveLength(NODES);
    expect(emulator.errors.get('ec2:DescribeInstances')).toBe(2);
    expect(emulator.errors.get('config:PutEvaluations')).toBe(3);
    expect(emulator.calls.get('config:PutEvaluations')).toBe(25);
  });

  it('fails the invocation, naming the cause, when Config stays throttled past the retries', async () => {
    const emulator = target.emulator!;
    // One node in scope: one batch, retried by the SDK until its attempts run out.
    await target.seed({ tags: { 'e2e/throttle-probe': 'yes' } });
    emulator.faults.set('config:PutEvaluations', { throttleNext: 1000 });
    await expect(sweep(freshRule(), { NodeTagKeys: 'e2e/throttle-probe' })).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(emulator.throttled.get('config:PutEvaluations')).toBe(6); // CLIENT_DEFAULTS.maxAttempts
    expect(emulator.calls.get('config:PutEvaluations')).toBe(0);
  }, 120_000);
});

describe('an evaluation Config refuses', () => {
  beforeEach(({ skip }) => skipWithout(target, 'emulator-controls', skip));

  it('does not stop the sweep: the rest are delivered, the refused one again with the fallback annotation, and the summary names it', async () => {
    const emulator = target.emulator!;
    const probe = { 'e2e/refusal-probe': 'yes' };
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(await target.seed(managedNodeGroupNode({ cluster: 'probe', hopLimit: 2, tags: probe })));
    // 60 two-byte characters: within Config's 256 characters, past the stricter 200-byte limit injected below.
    const long = await target.seed(managedNodeGroupNode({ cluster: 'é'.repeat(60), hopLimit: 2, tags: probe }));
    emulator.faults.set('config:PutEvaluations', { maxAnnotationBytes: 200 });
    const rule = freshRule();

    const summary = await sweep(rule, { NodeTagKeys: 'e2e/refusal-probe' });

    const recorded = new Map(emulator.evaluations(rule).map((e) => [e.resourceId, e.annotation]));
    expect(recorded.size).toBe(31);
    expect(recorded.get(long)).toBe(FALLBACK_ANNOTATION);
    expect(ids.every((id) => recorded.get(id)?.startsWith('compliant: '))).toBe(true);
    expect(summary).toMatchObject({ counts: { COMPLIANT: 31 }, replacedAnnotations: [{ resourceId: long, reason: expect.stringMatching(/^ValidationException: /) }] });
  });
});
