import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FleetMember } from '../../emulator/demo-fleet.ts';
import { managedNodeGroupNode } from '../../emulator/index.ts';
import { drainQueue, peekAll, sendEvents, VISIBILITY_TIMEOUT_SECONDS } from '../../emulator/event-source.ts';
import { nonCompliantEvents, remediateThroughQueue, skipWithout, startDemo, type DemoSetup, type Target } from './target.ts';

/**
 * The whole flow as `npm run demo` runs it, with the real handlers over HTTP: sweep, compliance
 * changes through the remediation queue to remediation (enforce), notifications, re-evaluation.
 */
let target: Target;
let evaluate: DemoSetup['evaluate'];
let remediate: DemoSetup['remediate'];
let fleet = new Map<string, FleetMember>();

beforeAll(async () => {
  ({ target, evaluate, remediate, fleet } = await startDemo());
});

afterAll(async () => {
  await target?.close();
});

const sweep = () => evaluate(target.sweepEvent({}), target.context('evaluate'));

const remediateAll = (events: readonly unknown[], handler: DemoSetup['remediate'] = remediate) => remediateThroughQueue(target, handler, events);

function idsOf(name: string): string {
  const id = [...fleet].find(([, member]) => member.name === name)?.[0];
  if (id === undefined) throw new Error(`no fleet member ${name}`);
  return id;
}

describe('the demo flow, end to end', () => {
  it('sweeps the fleet, remediates, notifies, and converges', async ({ skip }) => {
    skipWithout(target, 'config-results', skip);
    const first = await sweep();
    expect(first).toMatchObject({ swept: 8, counts: { COMPLIANT: 1, NON_COMPLIANT: 7, NOT_APPLICABLE: 0 } });

    const events = await nonCompliantEvents(target);
    expect(events).toHaveLength(7);
    expect(await remediateAll(events)).toEqual({ received: 7, failed: 0, threw: false });

    const second = await sweep();
    // Only what changed is written: the three fixed nodes, and the IMDSv1 node whose hop limit
    // (and so its annotation) changed; the other four results (the exempt node's included) stand.
    expect(second).toMatchObject({ swept: 8, unchanged: 4, counts: { COMPLIANT: 3, NON_COMPLIANT: 1, NOT_APPLICABLE: 0 } });
    const results = await target.results();
    for (const [id, member] of fleet) {
      const expected = member.expected.finalCompliance === 'filtered' ? undefined : member.expected.finalCompliance;
      expect({ node: member.name, result: results.get(id) }).toEqual({ node: member.name, result: expected });
    }
  });

  it('leaves every instance with the metadata options it should have', async ({ skip }) => {
    skipWithout(target, 'config-results', skip); // the flow above ran only with stored results
    const options = async (name: string) => (await target.describe(idsOf(name)))?.MetadataOptions;
    expect(await options('managed node group (AL2023, hop 1)')).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' });
    expect(await options('Karpenter node pool (hop 1)')).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    expect(await options('eksctl self-managed (tokens optional)')).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    // The IMDSv1 guard fixed the hop limit and left tokens for a person to enforce.
    expect(await options('still calls IMDSv1')).toMatchObject({ HttpTokens: 'optional', HttpPutResponseHopLimit: 2 });
    // Untouched: exempt, Auto Mode (owned by EKS), non-EKS, and the one only a person can fix.
    expect(await options('exempt (imds-guard/exempt)')).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 });
    expect(await options('EKS Auto Mode')).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 });
    expect(await options('non-EKS: web server')).toMatchObject({ HttpTokens: 'optional', HttpPutResponseHopLimit: 1 });
    expect(await options('no instance profile')).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    if (target.emulator) {
      const modified = new Set(target.emulator.metadataChanges().map((change) => change.instanceId));
      expect([...modified].map((id) => fleet.get(id)?.name).sort()).toEqual([
        'Karpenter node pool (hop 1)',
        'eksctl self-managed (tokens optional)',
        'managed node group (AL2023, hop 1)',
        'still calls IMDSv1',
      ]);
    }
  });

  it('published one notification per event, with the outcome each node calls for', ({ skip }) => {
    skipWithout(target, 'emulator-controls', skip);
    const published = target.emulator!.published(target.topicArn);
    const outcomes = new Map(published.map((m) => [m.messageAttributes.instanceId?.stringValue, m.messageAttributes.outcome?.stringValue]));
    expect(published).toHaveLength(7);
    // The same reports on the account's default event bus, for a member stack to forward centrally.
    const reports = target.emulator!.putEvents('eks-imds-guard');
    expect(reports.map((e) => [e.eventBusName, e.detailType, (e.detail as { instanceId: string }).instanceId]).sort()).toEqual(
      published.map((m) => ['default', 'IMDS Remediation Report', m.messageAttributes.instanceId?.stringValue]).sort(),
    );
    for (const [id, member] of fleet) {
      const expected = member.expected.notification === 'none' ? undefined : member.expected.notification;
      expect({ node: member.name, outcome: outcomes.get(id) }).toEqual({ node: member.name, outcome: expected });
    }
    for (const message of published) {
      expect(message.subject?.length).toBeLessThan(100);
      expect(message.subject).toMatch(/^[\x20-\x7e]+$/);
      const json = message.message.slice(message.message.indexOf('{'));
      expect(JSON.parse(json)).toMatchObject({ instanceId: message.messageAttributes.instanceId?.stringValue });
    }
    const drift = published.find((m) => m.messageAttributes.instanceId?.stringValue === idsOf('managed node group (AL2023, hop 1)'));
    expect(drift?.message).toMatch(/launch template lt-[0-9a-f]+ version 1/i);
  });
});

describe('delivery semantics', () => {
  beforeEach(({ skip }) => skipWithout(target, 'emulator-controls', skip));

  async function driftedNode(): Promise<{ id: string; events: unknown[] }> {
    const id = await target.seed(managedNodeGroupNode({ cluster: 'prod', nodegroup: 'late', hopLimit: 1 }));
    await sweep();
    const events = (await nonCompliantEvents(target)).filter((e) => (e as { detail: { resourceId: string } }).detail.resourceId === id);
    expect(events).toHaveLength(1);
    return { id, events };
  }

  it('modifies once and notifies once when the same event is delivered twice', async () => {
    const emulator = target.emulator!;
    const { id, events } = await driftedNode();
    const before = emulator.published(target.topicArn).length;

    await remediateAll([events[0], events[0]]);

    expect(emulator.metadataChanges(id)).toHaveLength(1);
    expect(emulator.published(target.topicArn).length - before).toBe(1);
  });

  it('after a fix whose notification failed, the redelivered message notifies once in a new execution environment and modifies nothing', async () => {
    const emulator = target.emulator!;
    const { id, events } = await driftedNode();
    const before = emulator.published(target.topicArn).length;

    emulator.faults.set('sns:Publish', { unavailableNext: 100 });
    expect(await remediateAll(events)).toEqual({ received: 1, failed: 1, threw: true });
    emulator.faults.clear();
    expect(emulator.metadataChanges(id)).toHaveLength(1);
    expect(emulator.published(target.topicArn).length).toBe(before);

    // SQS redelivers after the visibility timeout, maybe to another execution environment: a fresh module graph.
    emulator.sqs.advance(VISIBILITY_TIMEOUT_SECONDS * 1000);
    vi.resetModules();
    const { handler: retried } = await import('../../functions/remediate-imds/handler.ts');
    expect(await drainQueue(target.sqs, target.queues, retried, () => target.context('remediate'))).toEqual({ received: 1, failed: 0, threw: false });
    // And EventBridge may still deliver a duplicate of the event.
    await remediateAll(events, retried);

    expect(emulator.metadataChanges(id)).toHaveLength(1);
    const notifications = emulator.published(target.topicArn).slice(before);
    expect(notifications.map((m) => [m.messageAttributes.instanceId?.stringValue, m.messageAttributes.outcome?.stringValue])).toEqual([
      [id, 'remediated'],
    ]);
    expect(emulator.sqs.messages(target.queues.queueUrl)).toEqual([]);
  });

  it('moves an event that can never succeed to the dead-letter queue at once, with the reason, touching nothing', async () => {
    const emulator = target.emulator!;
    const { events } = await driftedNode();
    const event = events[0] as { detail: object };
    const foreign = { ...event, account: '999988887777', detail: { ...event.detail, awsAccountId: '999988887777' } };
    const untouched = ['ec2:DescribeInstances', 'ec2:ModifyInstanceMetadataOptions', 'ec2:CreateTags', 'cloudwatch:GetMetricStatistics', 'sns:Publish'];
    const counts = () => untouched.map((key) => emulator.requests.get(key));
    const before = counts();
    const sent = emulator.requests.get('sqs:SendMessage');

    expect(await remediateAll([foreign, 'not an event'])).toEqual({ received: 2, failed: 0, threw: false });

    expect(counts()).toEqual(before);
    // Two queued by "EventBridge", two moved to the dead-letter queue by the function.
    expect(emulator.requests.get('sqs:SendMessage') - sent).toBe(4);
    expect(emulator.sqs.messages(target.queues.queueUrl)).toEqual([]);
    const dead = await peekAll(target.sqs, target.queues.deadLetterQueueUrl);
    expect(dead.map((m) => [JSON.parse(m.body) === 'not an event' ? 'string' : 'event', m.attributes['reason']])).toEqual([
      ['event', 'InvalidEventError'],
      ['string', 'InvalidEventError'],
    ]);
    expect(dead[0]?.attributes['problems']).toBe(`account 999988887777 is not this function's account ${emulator.accountId}`);
  });

  it('retries a transient failure every visibility timeout, then SQS moves it to the dead-letter queue', async () => {
    const emulator = target.emulator!;
    const { events } = await driftedNode();
    emulator.faults.set('ec2:DescribeInstances', { unavailableNext: 1_000 });
    await sendEvents(target.sqs, target.queues.queueUrl, events);
    const receives: number[] = [];
    for (let attempt = 0; attempt < 6; attempt++) {
      const poll = await drainQueue(target.sqs, target.queues, remediate, () => target.context('remediate'));
      receives.push(poll.received);
      emulator.sqs.advance(VISIBILITY_TIMEOUT_SECONDS * 1000);
    }
    emulator.faults.clear();
    // Five receives (maxReceiveCount), then the sixth poll finds it redriven.
    expect(receives).toEqual([1, 1, 1, 1, 1, 0]);
    const dead = emulator.sqs.messages(target.queues.deadLetterQueueUrl);
    expect(dead.map((m) => [JSON.parse(m.body).id, m.receiveCount])).toContainEqual([(events[0] as { id: string }).id, 5]);
  });
});
