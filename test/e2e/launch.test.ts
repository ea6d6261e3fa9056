import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { karpenterNode, managedNodeGroupNode, plainInstance, type Emulator, type StateChangeEvent } from '../../emulator/index.ts';
import { JSON_BLOCK_MARKER } from '../../functions/remediate-imds/notification.ts';
import { onEmulator, startTarget, type Target } from './target.ts';

/**
 * The fast path with the real handlers over HTTP: EC2 launches a node, its "running" event goes
 * to remediate-imds, and the node is fixed before any Config sweep. The emulator makes the
 * state-change events, so this suite needs it.
 */
type EvaluateHandler = typeof import('../../functions/evaluate-imds/handler.ts').handler;
type RemediateHandler = typeof import('../../functions/remediate-imds/handler.ts').handler;

let target: Target;
let emulator: Emulator;
let evaluate: EvaluateHandler;
let remediate: RemediateHandler;

beforeAll(async () => {
  target = await startTarget();
  if (target.emulator === undefined) return;
  emulator = target.emulator;
  ({ handler: evaluate } = await import('../../functions/evaluate-imds/handler.ts'));
  ({ handler: remediate } = await import('../../functions/remediate-imds/handler.ts'));
});

afterAll(async () => {
  await target?.close();
});

function runningEvents(): StateChangeEvent[] {
  return emulator.drainStateChangeEvents().filter((event) => event.detail.state === 'running');
}

describe.runIf(onEmulator)('a launch, end to end', () => {
  it('fixes a freshly launched hop-1 node from its running event; the next sweep finds it compliant and raises no finding', async () => {
    const id = emulator.launchInstance(managedNodeGroupNode({ cluster: 'prod', nodegroup: 'al2023' }));
    const [event, ...more] = runningEvents();
    expect(more).toEqual([]);
    const result = await remediate(event, target.context('remediate'));
    expect(result).toMatchObject({ path: 'state-change', outcome: 'remediated', modified: true, verified: true });
    expect(result.secondsToVerifiedFix).toBeGreaterThanOrEqual(0);
    expect(emulator.getInstance(id)?.metadataOptions).toMatchObject({ httpTokens: 'required', httpPutResponseHopLimit: 2, state: 'applied' });

    const [message, ...others] = emulator.published(target.topicArn);
    expect(others).toEqual([]);
    const report = JSON.parse(message?.message.split(`${JSON_BLOCK_MARKER}\n`)[1] ?? '{}');
    expect(report).toMatchObject({ path: 'state-change', outcome: 'remediated', instanceId: id });

    const sweep = await evaluate(target.sweepEvent({}), target.context('evaluate'));
    expect(sweep.counts).toMatchObject({ COMPLIANT: 1, NON_COMPLIANT: 0 });
    expect(emulator.drainComplianceEvents().filter((e) => e.detail.newEvaluationResult.complianceType === 'NON_COMPLIANT')).toEqual([]);
  });

  it('publishes nothing and changes nothing for launches it must leave alone', async () => {
    const before = emulator.published(target.topicArn).length;
    const changes = emulator.metadataChanges().length;
    emulator.launchInstance(plainInstance());
    emulator.launchInstance(karpenterNode({ cluster: 'prod', hopLimit: 2 }));
    const results = [];
    for (const event of runningEvents()) results.push(await remediate(event, target.context('remediate')));
    // Without REMEDIATION_QUEUE_URL the untagged instance is not looked at again.
    expect(results.map((r) => [r.outcome, r.reason, r.published])).toEqual([
      ['skipped', 'relooks-exhausted', false],
      ['skipped', 'already-compliant', false],
    ]);
    expect(emulator.published(target.topicArn)).toHaveLength(before);
    expect(emulator.metadataChanges()).toHaveLength(changes);
  });
});
