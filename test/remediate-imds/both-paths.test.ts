import { PublishCommand } from '@aws-sdk/client-sns';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { beforeEach, describe, expect, it } from 'vitest';
import { formatLedger } from '../../functions/remediate-imds/ledger.ts';
import { IN_FLIGHT_CLAIM_MS, remediateEvent, type RemediationResult } from '../../functions/remediate-imds/remediator.ts';
import {
  aComplianceChangeEvent,
  aConfig,
  anEksNode,
  aStateChangeEvent,
  awsError,
  EVENT_ID,
  fakeEc2,
  LAUNCH_EVENT_ID,
  QUEUE_URL,
  type Ec2Operation,
  type FakeEc2,
} from './builders.ts';
import { aHarness, ec2Mock, publishedMessages, resetMocks, snsMock, sqsMock, START } from './harness.ts';

beforeEach(resetMocks);

const config = aConfig({ REMEDIATION_MODE: 'enforce', REMEDIATION_QUEUE_URL: QUEUE_URL });
const launch = () => aStateChangeEvent();
const finding = () => aComplianceChangeEvent();

function compliant(ec2: FakeEc2): boolean {
  const options = ec2.current()?.MetadataOptions;
  return options?.HttpTokens === 'required' && options.HttpPutResponseHopLimit === 2;
}

describe('one after the other: one modification, one notification', () => {
  it.each([
    ['the launch first, then the Config finding', launch, finding],
    ['the Config finding first, then the launch', finding, launch],
  ])('%s', async (_name, first, second) => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ hopLimit: 1 }));
    const a = await remediateEvent(first(), aHarness({ config }).deps);
    const b = await remediateEvent(second(), aHarness({ config }).deps);
    expect(a).toMatchObject({ modified: true, published: true });
    expect(b).toMatchObject({ outcome: 'skipped', reason: 'already-compliant', modified: false, published: false });
    expect(ec2.modifications).toHaveLength(1);
    expect(publishedMessages()).toHaveLength(1);
  });

  it('the launch fixed the node but could not notify; the Config finding stays quiet and the retry notifies once', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ hopLimit: 1 }));
    snsMock.on(PublishCommand).rejectsOnce(awsError('InternalError')).resolves({ MessageId: 'm-1' });
    await expect(remediateEvent(launch(), aHarness({ config }).deps)).rejects.toMatchObject({ name: 'NotificationDeliveryError' });
    expect(ec2.ledger()).toMatchObject({ event: LAUNCH_EVENT_ID, state: 'unnotified' });

    const config_ = await remediateEvent(finding(), aHarness({ config }).deps);
    expect(config_).toMatchObject({ reason: 'already-compliant', published: false });
    // The finding left the launch's ledger alone: the launch's retry still finds it.
    expect(ec2.ledger()).toMatchObject({ event: LAUNCH_EVENT_ID, state: 'unnotified' });

    const retry = await remediateEvent(launch(), aHarness({ config }).deps);
    expect(retry).toMatchObject({ outcome: 'remediated', redelivered: true, modified: false, published: true });
    expect(ec2.modifications).toHaveLength(1);
    // Two Publish calls, one delivered.
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(2);
    expect(ec2.ledger()).toMatchObject({ event: LAUNCH_EVENT_ID, state: 'notified' });
  });

  it("a Config finding whose change is still in flight (claimed, not landed) holds back the launch until the finding's retry fixes it", async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ hopLimit: 1 }));
    ec2.modifyFault = () => ({ error: awsError('RequestLimitExceeded'), landed: false });
    await expect(remediateEvent(finding(), aHarness({ config }).deps)).rejects.toMatchObject({ name: 'RequestLimitExceeded' });
    ec2.modifyFault = undefined;

    const held = await remediateEvent(launch(), aHarness({ config }).deps);
    expect(held).toMatchObject({ outcome: 'skipped', reason: 'in-flight', modified: false, published: false });

    const retry = await remediateEvent(finding(), aHarness({ config }).deps);
    expect(retry).toMatchObject({ outcome: 'remediated', modified: true });
    expect(ec2.modifications).toHaveLength(1);
    expect(publishedMessages()).toHaveLength(1);
  });

  it('a claim older than IN_FLIGHT_CLAIM_MS is abandoned: the launch acts', async () => {
    const stale = formatLedger({
      event: EVENT_ID,
      state: 'unnotified',
      before: { httpTokens: 'required', hopLimit: 1, httpEndpoint: 'enabled' },
      after: { httpTokens: 'required', hopLimit: 2, httpEndpoint: 'enabled' },
      imdsv1: undefined,
      at: new Date(START - IN_FLIGHT_CLAIM_MS - 1_000).toISOString(),
    });
    const node = anEksNode({ hopLimit: 1 });
    const ec2 = fakeEc2(ec2Mock, { ...node, Tags: [...(node.Tags ?? []), { Key: 'imds-guard:remediation', Value: stale }] });
    const result = await remediateEvent(launch(), aHarness({ config }).deps);
    expect(result).toMatchObject({ outcome: 'remediated', modified: true });
    expect(ec2.ledger()).toMatchObject({ event: LAUNCH_EVENT_ID, state: 'notified' });
  });
});

describe('two changes, one report', () => {
  function claimOf(eventId: string, state: 'unnotified' | 'notified'): string {
    return formatLedger({
      event: eventId,
      state,
      before: { httpTokens: 'required', hopLimit: 1, httpEndpoint: 'enabled' },
      after: { httpTokens: 'required', hopLimit: 2, httpEndpoint: 'enabled' },
      imdsv1: undefined,
      at: new Date(START).toISOString(),
    });
  }

  /** Replaces the ledger on the instance just before the n-th DescribeInstances, as another event's invocation would. */
  function otherEventWritesBefore(ec2: FakeEc2, nthRead: number, values: readonly string[]): void {
    let reads = 0;
    ec2.gate = (op) => {
      if (op === 'DescribeInstances' && ++reads >= nthRead) {
        const value = values[Math.min(reads - nthRead, values.length - 1)]!;
        const tags = (ec2.current()?.Tags ?? []).filter((tag) => tag.Key !== 'imds-guard:remediation');
        ec2.current()!.Tags = [...tags, { Key: 'imds-guard:remediation', Value: value }];
      }
      return undefined;
    };
  }

  it("stays silent once the other event's claim is marked notified", async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ hopLimit: 1 }));
    // Read 3 is the first verification read: the finding's claim, then its `notified` mark.
    otherEventWritesBefore(ec2, 3, [claimOf(EVENT_ID, 'unnotified'), claimOf(EVENT_ID, 'notified')]);
    const result = await remediateEvent(launch(), aHarness({ config }).deps);
    expect(result).toMatchObject({ outcome: 'remediated', reason: 'reported-by-another-event', modified: true, published: false });
    expect(snsMock.calls()).toHaveLength(0);
  });

  it('reports anyway when the other claim does not resolve within the invocation: a second notification rather than none', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ hopLimit: 1 }));
    otherEventWritesBefore(ec2, 3, [claimOf(EVENT_ID, 'unnotified')]);
    const harness = aHarness({ config, remainingMs: 30_000 });
    const result = await remediateEvent(launch(), harness.deps);
    expect(result).toMatchObject({ reason: 'applied', modified: true, published: true });
    expect(harness.elapsed()).toBeLessThanOrEqual(20_000);
  });
});

interface Interleaving {
  readonly order: readonly string[];
  /** At each step where both invocations waited on EC2, which one went (0 = launch, 1 = finding). */
  readonly choices: readonly number[];
  readonly results: readonly RemediationResult[];
  readonly ec2: FakeEc2;
  /** What each re-look the two sent did, delivered after both finished. */
  readonly relooks: readonly RemediationResult[];
  /** Publish calls, re-looks included. */
  readonly notifications: number;
}

/** Lets every promise chain run until each unfinished invocation waits on an EC2 call (or has finished). */
async function settle(waiting: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !waiting(); i++) await new Promise((resolve) => setImmediate(resolve));
  if (!waiting()) throw new Error('an invocation neither finished nor called EC2');
}

/**
 * The calls of each invocation whose order against the other's is explored: the read that
 * decides, the claim, the read that confirms it, and the change. Later calls (verification, the
 * `notified` mark) run as soon as their invocation reaches them.
 */
const GATED_CALLS = 4;

/**
 * The launch and the Config finding for one node at once, in two execution environments. The
 * first GATED_CALLS EC2 calls of each wait at a gate; whenever both wait, `prefix` (then 0) picks
 * which goes first.
 */
async function interleave(prefix: readonly number[]): Promise<Interleaving> {
  resetMocks();
  const ec2 = fakeEc2(ec2Mock, anEksNode({ hopLimit: 1 }));
  const harnesses = [aHarness({ config }), aHarness({ config })] as const;
  const names = ['launch', 'finding'] as const;
  const waiting: { who: number; op: Ec2Operation; release: () => void }[] = [];
  const order: string[] = [];
  const gated = [0, 0];
  ec2.gate = (op, client) => {
    const who = harnesses.findIndex((h) => h.deps.ec2 === client);
    if (++gated[who]! > GATED_CALLS) {
      order.push(`${names[who]}:${op}`);
      return undefined;
    }
    return new Promise<void>((release) => waiting.push({ who, op, release }));
  };
  const finished = [false, false];
  const runs = [launch(), finding()].map((event, who) =>
    remediateEvent(event, harnesses[who]!.deps).finally(() => {
      finished[who] = true;
    }),
  );
  const choices: number[] = [];
  for (;;) {
    await settle(() => finished.every((done, who) => done || waiting.some((w) => w.who === who)));
    if (waiting.length === 0) break;
    waiting.sort((x, y) => x.who - y.who);
    let pick = 0;
    if (waiting.length > 1) {
      pick = prefix[choices.length] ?? 0;
      choices.push(pick);
    }
    const [next] = waiting.splice(pick, 1);
    order.push(`${names[next!.who]}:${next!.op}`);
    next!.release();
  }
  const results = await Promise.all(runs);
  ec2.gate = undefined;
  const relooks: RemediationResult[] = [];
  for (const call of sqsMock.commandCalls(SendMessageCommand)) {
    relooks.push(await remediateEvent(JSON.parse(call.args[0].input.MessageBody ?? ''), aHarness({ config }).deps));
  }
  return { order, choices, results, ec2, relooks, notifications: snsMock.commandCalls(PublishCommand).length };
}

/** Every interleaving of the two invocations' EC2 calls, depth first. */
async function everyInterleaving(): Promise<Interleaving[]> {
  const all: Interleaving[] = [];
  const todo: number[][] = [[]];
  while (todo.length > 0) {
    const prefix = todo.pop()!;
    const run = await interleave(prefix);
    all.push(run);
    for (let step = prefix.length; step < run.choices.length; step++) todo.push([...run.choices.slice(0, step), 1]);
  }
  return all;
}

describe('both paths at once: every interleaving of their EC2 calls', () => {
  it('fixes the node and notifies exactly once; two modifications (same values) only when both claims were confirmed before either change', async () => {
    const runs = await everyInterleaving();
    let twice = 0;
    for (const run of runs) {
      const context = run.order.join(' ');
      expect(compliant(run.ec2), context).toBe(true);
      const modified = run.results.filter((r) => r.modified).length;
      expect(run.ec2.modifications.length, context).toBe(modified);
      expect(modified, context).toBeGreaterThanOrEqual(1);
      expect(run.notifications, context).toBe(1);
      expect(run.results.filter((r) => r.published).length, context).toBe(1);
      for (const result of run.results) if (!result.modified) expect(result.published, context).toBe(false);
      if (modified === 2) {
        // The same values twice; the second one to look saw the first's claim and left the report to it.
        expect(run.ec2.modifications[0], context).toEqual(run.ec2.modifications[1]);
        expect(run.results.map((r) => r.reason).sort(), context).toEqual(['applied', 'reported-by-another-event']);
        twice++;
        const firstModify = run.order.findIndex((step) => step.endsWith(':ModifyInstanceMetadataOptions'));
        for (const who of ['launch', 'finding']) {
          const confirm = run.order.map((step, i) => [step, i] as const).filter(([step]) => step === `${who}:DescribeInstances`)[1]?.[1];
          expect(confirm, context).toBeLessThan(firstModify);
        }
      }
      // The invocation that lost its claim looks again later; that look changes and publishes nothing.
      for (const again of run.relooks) expect(again, context).toMatchObject({ modified: false, published: false });
    }
    // 34 orders of the first four calls of each; in 8, both changed the instance.
    expect([runs.length, twice]).toEqual([34, 8]);
  });
});
