import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { drainQueue, sendEvents } from '../../emulator/event-source.ts';
import { karpenterNode, managedNodeGroupNode, plainInstance, type Emulator, type StateChangeEvent } from '../../emulator/index.ts';
import { JSON_BLOCK_MARKER } from '../../functions/remediate-imds/notification.ts';
import { RELOOK_DELAY_SECONDS, RELOOK_FIELD } from '../../functions/remediate-imds/trigger.ts';
import { skipWithout, startTarget, type Target } from './target.ts';

/**
 * The fast path with the real handlers over HTTP: EC2 launches a node, EventBridge puts its
 * "running" event on the remediation queue, the event source mapping hands it to remediate-imds,
 * and the node is fixed before any Config sweep. The emulator makes the state-change events, so
 * this suite needs it.
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

/** EventBridge's second rule: `running` state changes, onto the queue; then the event source mapping drains it. */
async function deliverLaunches(): Promise<void> {
  const running = emulator.drainStateChangeEvents().filter((event: StateChangeEvent) => event.detail.state === 'running');
  await sendEvents(target.sqs, target.queues.queueUrl, running);
  const drained = await drainQueue(target.sqs, target.queues, remediate, () => target.context('remediate'));
  expect(drained).toMatchObject({ failed: 0, threw: false });
}

const reportsOf = (from: number) =>
  emulator.published(target.topicArn).slice(from).map((message) => JSON.parse(message.message.split(`${JSON_BLOCK_MARKER}\n`)[1] ?? '{}'));

describe('a launch, end to end', () => {
  beforeEach(({ skip }) => skipWithout(target, 'emulator-controls', skip));

  it('fixes a freshly launched hop-1 node from its running event; the next sweep finds it compliant and raises no finding', async () => {
    const id = emulator.launchInstance(managedNodeGroupNode({ cluster: 'prod', nodegroup: 'al2023' }));
    await deliverLaunches();
    expect(emulator.getInstance(id)?.metadataOptions).toMatchObject({ httpTokens: 'required', httpPutResponseHopLimit: 2, state: 'applied' });
    expect(reportsOf(0)).toEqual([expect.objectContaining({ path: 'state-change', outcome: 'remediated', instanceId: id })]);

    const sweep = await evaluate(target.sweepEvent({}), target.context('evaluate'));
    expect(sweep.counts).toMatchObject({ COMPLIANT: 1, NON_COMPLIANT: 0 });
    expect(emulator.drainComplianceEvents().filter((e) => e.detail.newEvaluationResult.complianceType === 'NON_COMPLIANT')).toEqual([]);
  });

  it('publishes nothing and changes nothing for launches it must leave alone; an untagged one waits on the queue for its re-look', async () => {
    const published = emulator.published(target.topicArn).length;
    const changes = emulator.metadataChanges().length;
    const bastion = emulator.launchInstance(plainInstance());
    emulator.launchInstance(karpenterNode({ cluster: 'prod', hopLimit: 2 }));
    await deliverLaunches();
    expect(emulator.published(target.topicArn)).toHaveLength(published);
    expect(emulator.metadataChanges()).toHaveLength(changes);
    const waiting = emulator.sqs.messages(target.queues.queueUrl).map((message) => JSON.parse(message.body));
    expect(waiting).toEqual([expect.objectContaining({ detail: { 'instance-id': bastion, state: 'running' }, [RELOOK_FIELD]: { attempt: 1 } })]);
    // Drop it: the bastion is never tagged, its re-looks are not this test's subject.
    emulator.sqs.advance(RELOOK_DELAY_SECONDS * 1000);
    for (let attempt = 1; attempt <= 3; attempt++) {
      await drainQueue(target.sqs, target.queues, remediate, () => target.context('remediate'));
      emulator.sqs.advance(RELOOK_DELAY_SECONDS * 1000);
    }
    expect(emulator.sqs.messages(target.queues.queueUrl)).toEqual([]);
    expect(emulator.published(target.topicArn)).toHaveLength(published);
  });

  it('a node tagged after its launch is fixed by the re-look, 20 s later on the queue', async () => {
    const published = emulator.published(target.topicArn).length;
    const node = managedNodeGroupNode({ cluster: 'prod', nodegroup: 'tag-after-create' });
    const id = emulator.launchInstance({ ...node, tags: {} });
    await deliverLaunches();
    expect(emulator.getInstance(id)?.metadataOptions.httpPutResponseHopLimit).toBe(1);

    emulator.updateInstance(id, { tags: node.tags ?? {} });
    emulator.sqs.advance(RELOOK_DELAY_SECONDS * 1000);
    await drainQueue(target.sqs, target.queues, remediate, () => target.context('remediate'));
    expect(emulator.getInstance(id)?.metadataOptions).toMatchObject({ httpTokens: 'required', httpPutResponseHopLimit: 2 });
    expect(reportsOf(published)).toEqual([expect.objectContaining({ path: 'state-change', outcome: 'remediated', instanceId: id })]);
  });
});
