import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoFleet, type FleetMember } from '../../emulator/demo-fleet.ts';
import { nonCompliantEvent, remediateThroughQueue, skipWithout, startDemo, type DemoSetup } from './target.ts';

/**
 * The demo fleet one node at a time, on the path every target serves (moto included): the rule
 * reads the instance for an oversized change notification, remediation (enforce) fixes what the
 * rule found NON_COMPLIANT and notifies, and the rule judges the instance again. No sweep and no
 * stored results are needed: a one-instance invocation's counts are its verdict.
 */
let demo: DemoSetup;
beforeAll(async () => {
  demo = await startDemo();
});
afterAll(() => demo?.target.close());

async function verdictOf(instanceId: string): Promise<string> {
  const summary = await demo.evaluate(demo.target.oversizedEvent(instanceId), demo.target.context('evaluate'));
  const verdicts = Object.entries(summary.counts).filter(([, count]) => count > 0);
  expect(verdicts).toHaveLength(1);
  expect(verdicts[0]?.[1]).toBe(1);
  return verdicts[0]?.[0] ?? '';
}

function finalVerdict(member: FleetMember): string {
  // A non-node is filtered out of a sweep; judged on its own it is NOT_APPLICABLE.
  return member.expected.finalCompliance === 'filtered' ? 'NOT_APPLICABLE' : member.expected.finalCompliance;
}

describe('each demo node: judged, remediated when NON_COMPLIANT, judged again', () => {
  it.for(demoFleet())('$name', async (member, { skip }) => {
    const { target, fleet, remediate } = demo;
    if (member.imdsV1Calls > 0) skipWithout(target, 'imdsv1-metric', skip);
    if (member.spec.operator !== undefined) skipWithout(target, 'managed-instances', skip);
    const id = [...fleet].find(([, seeded]) => seeded.name === member.name)?.[0] ?? '';
    const options = async () => {
      const current = (await target.describe(id))?.MetadataOptions;
      return { HttpTokens: current?.HttpTokens, HttpPutResponseHopLimit: current?.HttpPutResponseHopLimit, HttpEndpoint: current?.HttpEndpoint };
    };
    const before = await options();
    // Remediation hears only of NON_COMPLIANT results: a node it never notifies about keeps its first verdict.
    const reported = member.expected.notification !== 'none';

    expect(await verdictOf(id)).toBe(reported ? 'NON_COMPLIANT' : finalVerdict(member));
    if (reported) {
      expect(await remediateThroughQueue(target, remediate, [nonCompliantEvent(target, id)])).toEqual({ received: 1, failed: 0, threw: false });
    }
    expect(await verdictOf(id)).toBe(finalVerdict(member));

    const notified = (await target.notifications()).filter((n) => n.attributes['instanceId'] === id);
    expect(notified.map((n) => n.attributes['outcome'])).toEqual(reported ? [member.expected.notification] : []);
    for (const { subject } of notified) expect(subject).toMatch(/^[\x20-\x7e]{1,99}$/);

    const after = await options();
    switch (member.expected.notification) {
      case 'remediated':
        expect(after).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' });
        break;
      case 'partially-remediated':
        // The IMDSv1 guard: hop limit fixed, tokens left for a person to enforce.
        expect(after).toEqual({ ...before, HttpPutResponseHopLimit: 2 });
        break;
      default:
        expect(after).toEqual(before);
    }
  });
});
