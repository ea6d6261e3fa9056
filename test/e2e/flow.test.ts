import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FleetMember } from '../../emulator/demo-fleet.ts';
import { managedNodeGroupNode } from '../../emulator/index.ts';
import { nonCompliantEvents, skipWithout, startDemo, type DemoSetup, type Target } from './target.ts';

/**
 * The whole flow as `npm run demo` runs it, with the real handlers over HTTP: sweep, compliance
 * changes to remediation (enforce), notifications, re-evaluation.
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

async function remediateAll(events: readonly unknown[]): Promise<void> {
  for (const event of events) await remediate(event, target.context('remediate'));
}

function idsOf(name: string): string {
  const id = [...fleet].find(([, member]) => member.name === name)?.[0];
  if (id === undefined) throw new Error(`no fleet member ${name}`);
  return id;
}

describe('the demo flow, end to end', () => {
  it('sweeps the fleet, remediates, notifies, and converges', async ({ skip }) => {
    skipWithout(target, 'config-results', skip);
    const first = await sweep();
    expect(first).toMatchObject({ swept: 8, counts: { COMPLIANT: 1, NON_COMPLIANT: 6, NOT_APPLICABLE: 1 } });

    const events = await nonCompliantEvents(target);
    expect(events).toHaveLength(6);
    await remediateAll(events);

    const second = await sweep();
    expect(second).toMatchObject({ swept: 8, counts: { COMPLIANT: 4, NON_COMPLIANT: 3, NOT_APPLICABLE: 1 } });
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
    expect(published).toHaveLength(6);
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

  it('after a fix whose notification failed, a retry in a new execution environment notifies once and modifies nothing', async () => {
    const emulator = target.emulator!;
    const { id, events } = await driftedNode();
    const event = events[0];
    const before = emulator.published(target.topicArn).length;

    emulator.faults.set('sns:Publish', { unavailableNext: 100 });
    await expect(remediate(event, target.context('remediate'))).rejects.toThrow();
    emulator.faults.clear();
    expect(emulator.metadataChanges(id)).toHaveLength(1);
    expect(emulator.published(target.topicArn).length).toBe(before);

    // Lambda's async retry may land in another execution environment: a fresh module graph.
    vi.resetModules();
    const { handler: retried } = await import('../../functions/remediate-imds/handler.ts');
    await retried(event, target.context('remediate'));
    await retried(event, target.context('remediate')); // and EventBridge may still deliver a duplicate

    expect(emulator.metadataChanges(id)).toHaveLength(1);
    const notifications = emulator.published(target.topicArn).slice(before);
    expect(notifications.map((m) => [m.messageAttributes.instanceId?.stringValue, m.messageAttributes.outcome?.stringValue])).toEqual([
      [id, 'remediated'],
    ]);
  });
});
