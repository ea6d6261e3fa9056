import {
  ConfigServiceClient,
  DescribeConfigurationRecordersCommand,
  DescribeConfigurationRecorderStatusCommand,
  GetComplianceDetailsByConfigRuleCommand,
  PutEvaluationsCommand,
  type Evaluation,
  type EvaluationResult,
  type PutEvaluationsCommandInput,
} from '@aws-sdk/client-config-service';
import { DescribeInstancesCommand, EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../functions/evaluate-imds/handler.ts';
import { logger } from '../../functions/shared/telemetry.ts';
import { createInstanceRule } from '../../functions/evaluate-imds/rule.ts';
import { evaluateRuleEvent } from '../../functions/shared/config-rule/evaluator.ts';
import { EvaluationDeliveryError } from '../../functions/shared/config-rule/evaluation-sink.ts';
import {
  aChangeEvent,
  anOversizedEvent,
  aScheduledEvent,
  CAPTURE_TIME,
  managedNodeTags,
  RULE_NAME,
  SWEEP_TIME,
} from '../builders/config-item.ts';
import { anEc2Instance } from '../builders/ec2-instance.ts';

const ec2 = mockClient(EC2Client);
const config = mockClient(ConfigServiceClient);
const silent = { debug() {}, info() {}, warn() {}, error() {} };

beforeEach(() => {
  ec2.reset();
  config.reset();
  config.on(PutEvaluationsCommand).resolves({ FailedEvaluations: [] });
  config.on(GetComplianceDetailsByConfigRuleCommand).resolves({ EvaluationResults: [] });
});

function putInputs(): PutEvaluationsCommandInput[] {
  return config.commandCalls(PutEvaluationsCommand).map((call) => call.args[0].input);
}

function allEvaluations() {
  return putInputs().flatMap((input) => input.Evaluations ?? []);
}

function awsError(name: string, message = name): Error {
  return Object.assign(new Error(message), { name, $metadata: {} });
}

describe('change notifications', () => {
  it('reports a compliant node with no EC2 call and one PutEvaluations', async () => {
    await handler(aChangeEvent());
    expect(ec2.calls()).toHaveLength(0);
    expect(config).toHaveReceivedCommandTimes(PutEvaluationsCommand, 1);
    expect(config).toHaveReceivedCommandWith(PutEvaluationsCommand, {
      ResultToken: 'result-token-abc',
      Evaluations: [
        {
          ComplianceResourceType: 'AWS::EC2::Instance',
          ComplianceResourceId: 'i-0123456789abcdef0',
          ComplianceType: 'COMPLIANT',
          Annotation: 'compliant: HttpTokens required, HopLimit 2, HttpEndpoint enabled, InstanceProfile attached; cluster "prod"',
          OrderingTimestamp: new Date(CAPTURE_TIME),
        },
      ],
    });
    expect(putInputs()[0]).not.toHaveProperty('TestMode');
  });

  it('reports hop limit 1 as NON_COMPLIANT with the fix', async () => {
    const summary = await handler(aChangeEvent({ hopLimit: 1 }));
    expect(summary.counts).toEqual({ COMPLIANT: 0, NON_COMPLIANT: 1, NOT_APPLICABLE: 0 });
    expect(allEvaluations()[0]?.Annotation).toContain('--http-put-response-hop-limit 2');
  });

  it('applies the rule parameters from the event', async () => {
    await handler(aChangeEvent({ hopLimit: 1, ruleParameters: { MinHopLimit: '1' } }));
    expect(allEvaluations()[0]?.ComplianceType).toBe('COMPLIANT');
  });

  it.each([
    ['deleted', { status: 'ResourceDeleted' }, 'configuration item status is ResourceDeleted'],
    ['deleted, not recorded', { status: 'ResourceDeletedNotRecorded' }, 'configuration item status is ResourceDeletedNotRecorded'],
    ['not recorded', { status: 'ResourceNotRecorded' }, 'configuration item status is ResourceNotRecorded'],
    ['left scope', { eventLeftScope: true, hopLimit: 1 }, 'resource left the rule scope'],
    ['another resource type', { resourceType: 'AWS::EC2::Volume' }, 'resource type AWS::EC2::Volume is not AWS::EC2::Instance'],
    ['terminated', { state: 'terminated', hopLimit: 1 }, 'instance is terminated'],
    ['not a node', { tags: { Name: 'bastion' }, hopLimit: 1 }, 'not an EKS node'],
  ] as const)('%s → NOT_APPLICABLE saying why', async (_name, shape, why) => {
    await handler(aChangeEvent(shape));
    const [evaluation] = allEvaluations();
    expect(evaluation?.ComplianceType).toBe('NOT_APPLICABLE');
    expect(evaluation?.Annotation).toContain(why);
    expect(ec2.calls()).toHaveLength(0);
  });

  it('keeps an exempt node that fails NON_COMPLIANT, annotated exempt and until when (judged now)', async () => {
    const until = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    await handler(aChangeEvent({ tags: { ...managedNodeTags(), 'imds-guard/exempt': `until=${until};reason=SEC-9` }, hopLimit: 1 }));
    const [evaluation] = allEvaluations();
    expect(evaluation?.ComplianceType).toBe('NON_COMPLIANT');
    expect(evaluation?.Annotation).toMatch(new RegExp(`^HopLimit 1 \\(want >=2\\); exempt until ${until} \\(reason "SEC-9"\\): not remediated; `));
  });

  it('passes TestMode when the result token is TESTMODE', async () => {
    await handler(aChangeEvent({ resultToken: 'TESTMODE' }));
    expect(config).toHaveReceivedCommandWith(PutEvaluationsCommand, { ResultToken: 'TESTMODE', TestMode: true });
  });
});

describe('oversized change notifications', () => {
  it('reads the instance itself', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [anEc2Instance({ httpTokens: 'optional' })] }] });
    await handler(anOversizedEvent());
    expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, { InstanceIds: ['i-0123456789abcdef0'], IncludeManagedResources: true });
    expect(allEvaluations()).toEqual([
      expect.objectContaining({ ComplianceType: 'NON_COMPLIANT', OrderingTimestamp: new Date(CAPTURE_TIME) }),
    ]);
    expect(allEvaluations()[0]?.Annotation).toContain('HttpTokens optional (want required)');
  });

  it('reports an instance that no longer exists as NOT_APPLICABLE', async () => {
    ec2.on(DescribeInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound'));
    await handler(anOversizedEvent());
    expect(allEvaluations()[0]).toMatchObject({ ComplianceType: 'NOT_APPLICABLE', Annotation: 'instance no longer exists' });
  });

  it('does not read EC2 for a deleted item', async () => {
    await handler(anOversizedEvent({ status: 'ResourceDeleted' }));
    expect(ec2.calls()).toHaveLength(0);
    expect(allEvaluations()[0]?.ComplianceType).toBe('NOT_APPLICABLE');
  });

  it('surfaces other EC2 errors and writes nothing', async () => {
    ec2.on(DescribeInstancesCommand).rejects(awsError('RequestLimitExceeded'));
    await expect(handler(anOversizedEvent())).rejects.toMatchObject({ name: 'RequestLimitExceeded' });
    expect(config.calls()).toHaveLength(0);
  });
});

describe('bad input writes nothing', () => {
  it.each([
    ['unknown message type', { ...aScheduledEvent(), invokingEvent: JSON.stringify({ messageType: 'ComplianceChange' }) }, 'invokingEvent.messageType must be one of ConfigurationItemChangeNotification, OversizedConfigurationItemChangeNotification, ScheduledNotification, got "ComplianceChange"'],
    ['invokingEvent not JSON', { ...aScheduledEvent(), invokingEvent: '{' }, 'invokingEvent is not valid JSON'],
    ['no result token', { ...aScheduledEvent(), resultToken: undefined }, 'resultToken: '],
    ['not an object', 'hello', '(event): '],
    ['configuration item without resourceId', (() => {
      const event = aChangeEvent();
      const invoking = JSON.parse(event.invokingEvent);
      delete invoking.configurationItem.resourceId;
      return { ...event, invokingEvent: JSON.stringify(invoking) };
    })(), 'invokingEvent.configurationItem.resourceId'],
    ['bad capture time', aChangeEvent({ captureTime: 'yesterday' }), 'invokingEvent.configurationItem.configurationItemCaptureTime: must be an ISO-8601 timestamp'],
  ])('%s → InvalidEventError', async (_name, event, message) => {
    await expect(handler(event)).rejects.toMatchObject({ name: 'InvalidEventError', message: expect.stringContaining(message) });
    expect(config.calls()).toHaveLength(0);
    expect(ec2.calls()).toHaveLength(0);
  });

  it('bad rule parameters → InvalidParametersError listing every problem', async () => {
    const event = aScheduledEvent({ ruleParameters: { MinHopLimit: '0', Colour: 'blue' } });
    await expect(handler(event)).rejects.toMatchObject({
      name: 'InvalidParametersError',
      problems: [expect.stringContaining('unknown parameter "Colour"'), expect.stringContaining('MinHopLimit must be an integer from 1 to 64')],
    });
    expect(config.calls()).toHaveLength(0);
    expect(ec2.calls()).toHaveLength(0);
  });
});

function fleet(count: number, shape: (i: number) => Parameters<typeof anEc2Instance>[0] = () => ({})): Instance[] {
  return Array.from({ length: count }, (_, i) =>
    anEc2Instance({ instanceId: `i-${i.toString(16).padStart(17, '0')}`, ...shape(i) }),
  );
}

/** Serves `instances` in DescribeInstances pages of MaxResults, like EC2. */
function serveInstances(instances: Instance[]): void {
  ec2.on(DescribeInstancesCommand).callsFake((input: { MaxResults?: number; NextToken?: string }) => {
    const size = input.MaxResults ?? 1000;
    const start = Number(input.NextToken ?? 0);
    const next = start + size < instances.length ? String(start + size) : undefined;
    return { Reservations: [{ Instances: instances.slice(start, start + size) }], NextToken: next };
  });
}

function staleResult(resourceId: string, complianceType: 'COMPLIANT' | 'NON_COMPLIANT', ordering: string): EvaluationResult {
  return {
    EvaluationResultIdentifier: {
      EvaluationResultQualifier: { ConfigRuleName: RULE_NAME, ResourceType: 'AWS::EC2::Instance', ResourceId: resourceId },
      OrderingTimestamp: new Date(ordering),
    },
    ComplianceType: complianceType,
  };
}

describe('scheduled sweep', () => {
  it('sweeps 2,500 nodes in 3 pages and 25 full batches, server-side filtered', async () => {
    serveInstances(fleet(2500, (i) => ({ hopLimit: i % 5 === 0 ? 1 : 2 })));
    const summary = await handler(aScheduledEvent());

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 3);
    expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, {
      MaxResults: 1000,
      IncludeManagedResources: true,
      Filters: [
        { Name: 'tag-key', Values: expect.arrayContaining(['eks:cluster-name', 'kubernetes.io/cluster/*']) },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    });
    expect(config).toHaveReceivedCommandTimes(PutEvaluationsCommand, 25);
    expect(putInputs().every((input) => input.Evaluations?.length === 100)).toBe(true);
    const ids = new Set(allEvaluations().map((e) => e.ComplianceResourceId));
    expect(ids.size).toBe(2500);
    expect(allEvaluations().every((e) => e.OrderingTimestamp?.getTime() === Date.parse(SWEEP_TIME))).toBe(true);
    expect(summary).toMatchObject({ swept: 2500, cleanedUp: 0, counts: { COMPLIANT: 2000, NON_COMPLIANT: 500, NOT_APPLICABLE: 0 } });
    // The listing of earlier results: one chain per compliance type, here one empty page each.
    expect(config).toHaveReceivedCommandTimes(GetComplianceDetailsByConfigRuleCommand, 3);
  });

  it('reports NOT_APPLICABLE for earlier results the sweep no longer saw', async () => {
    serveInstances(fleet(3));
    const pages: Record<string, EvaluationResult[][]> = {
      COMPLIANT: [
        [
          staleResult('i-00000000000000000', 'COMPLIANT', '2026-11-26T00:00:00.000Z'), // seen by this sweep
          staleResult('i-0gone00000000002', 'COMPLIANT', '2026-11-27T11:54:59.999Z'), // just past the 5-minute grace
          staleResult('i-0new000000000004', 'COMPLIANT', '2026-11-27T11:55:00.000Z'), // within it: maybe not listed yet
        ],
        [staleResult('i-0late00000000003', 'COMPLIANT', SWEEP_TIME)], // written during the sweep
      ],
      NON_COMPLIANT: [[staleResult('i-0gone00000000001', 'NON_COMPLIANT', '2026-11-26T00:00:00.000Z')]],
    };
    config.on(GetComplianceDetailsByConfigRuleCommand).callsFake((input: { ComplianceTypes: string[]; NextToken?: string }) => {
      const chain = pages[input.ComplianceTypes[0]!] ?? [[]];
      const index = Number(input.NextToken ?? 0);
      return { EvaluationResults: chain[index], NextToken: index + 1 < chain.length ? String(index + 1) : undefined };
    });

    const summary = await handler(aScheduledEvent());

    for (const type of ['COMPLIANT', 'NON_COMPLIANT', 'NOT_APPLICABLE'] as const) {
      expect(config).toHaveReceivedCommandWith(GetComplianceDetailsByConfigRuleCommand, {
        ConfigRuleName: RULE_NAME,
        ComplianceTypes: [type],
        Limit: 100,
      });
    }
    expect(config).toHaveReceivedCommandWith(GetComplianceDetailsByConfigRuleCommand, { ComplianceTypes: ['COMPLIANT'], NextToken: '1' });
    const cleaned = allEvaluations().filter((e) => e.ComplianceType === 'NOT_APPLICABLE');
    expect(cleaned.map((e) => e.ComplianceResourceId)).toEqual(['i-0gone00000000002', 'i-0gone00000000001']);
    expect(cleaned[0]?.Annotation).toBe('not seen by the latest sweep: gone or no longer in the rule scope');
    expect(summary).toMatchObject({ swept: 3, cleanedUp: 2 });
    // The sweep's last batch and the stale results go out together.
    expect(config).toHaveReceivedCommandTimes(PutEvaluationsCommand, 1);
  });

  it('marks every sweep evaluation TestMode under TESTMODE', async () => {
    serveInstances(fleet(150));
    await handler(aScheduledEvent({ resultToken: 'TESTMODE' }));
    expect(putInputs()).toHaveLength(2);
    expect(putInputs().every((input) => input.TestMode === true)).toBe(true);
  });

  it('applies ClusterNames within the sweep; an exemption, valid or not, never hides a failing node', async () => {
    serveInstances([
      anEc2Instance({ instanceId: 'i-prod', hopLimit: 1 }),
      anEc2Instance({ instanceId: 'i-staging', hopLimit: 1, tags: managedNodeTags('staging') }),
      anEc2Instance({ instanceId: 'i-exempt', hopLimit: 1, tags: { ...managedNodeTags(), 'imds-guard/exempt': 'until=2026-12-01' } }),
      anEc2Instance({ instanceId: 'i-expired', hopLimit: 1, tags: { ...managedNodeTags(), 'imds-guard/exempt': 'until=2026-11-01' } }),
    ]);
    // The sweep judges expiries at its notification time, 2026-11-27.
    await handler(aScheduledEvent({ ruleParameters: { ClusterNames: 'prod' } }));
    expect(allEvaluations().map((e) => [e.ComplianceResourceId, e.ComplianceType, e.Annotation?.split('; ')[1]])).toEqual([
      ['i-prod', 'NON_COMPLIANT', 'cluster "prod". Fix: aws ec2 modify-instance-metadata-options --instance-id i-prod --http-tokens required --http-put-response-hop-limit 2'],
      ['i-staging', 'NOT_APPLICABLE', undefined],
      ['i-exempt', 'NON_COMPLIANT', 'exempt until 2026-12-01: not remediated'],
      ['i-expired', 'NON_COMPLIANT', 'exemption ignored: expired on 2026-11-01'],
    ]);
  });

  it('retries evaluations Config lists in FailedEvaluations', async () => {
    serveInstances(fleet(2));
    const first = fleet(2)[1]!.InstanceId!;
    config.on(PutEvaluationsCommand)
      .resolvesOnce({ FailedEvaluations: [{ ComplianceResourceType: 'AWS::EC2::Instance', ComplianceResourceId: first, ComplianceType: 'COMPLIANT', OrderingTimestamp: new Date(SWEEP_TIME) }] })
      .resolves({ FailedEvaluations: [] });
    const summary = await handler(aScheduledEvent());
    expect(putInputs().map((input) => input.Evaluations?.map((e) => e.ComplianceResourceId))).toEqual([
      [fleet(2)[0]!.InstanceId, first],
      [first],
    ]);
    expect(summary.counts.COMPLIANT).toBe(2);
  });

  it('gives up on evaluations Config keeps refusing, naming them', async () => {
    serveInstances(fleet(1));
    config.on(PutEvaluationsCommand).callsFake((input: PutEvaluationsCommandInput) => ({ FailedEvaluations: input.Evaluations }));
    const sleeps: number[] = [];
    const rule = createInstanceRule({ ec2: new EC2Client({}), logger: silent });
    const error = await evaluateRuleEvent(aScheduledEvent(), rule, {
      config: new ConfigServiceClient({}),
      sinkOptions: { maxAttempts: 3, sleep: async (ms: number) => void sleeps.push(ms) },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EvaluationDeliveryError);
    expect((error as EvaluationDeliveryError).undelivered).toEqual(['i-00000000000000000']);
    expect((error as Error).message).toBe('AWS Config did not accept 1 evaluation(s) after 3 attempts: i-00000000000000000');
    expect(config).toHaveReceivedCommandTimes(PutEvaluationsCommand, 3);
    expect(sleeps).toEqual([100, 200]);
  });

  it('surfaces throttling that outlived the SDK retries and writes no cleanup', async () => {
    serveInstances(fleet(1200));
    config.on(GetComplianceDetailsByConfigRuleCommand).resolves({
      EvaluationResults: [staleResult('i-0gone00000000001', 'COMPLIANT', '2026-11-26T00:00:00.000Z')],
    });
    config.on(PutEvaluationsCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));
    await expect(handler(aScheduledEvent())).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(allEvaluations().some((e) => e.ComplianceType === 'NOT_APPLICABLE')).toBe(false);
  });

  it('surfaces a failed cleanup listing after the sweep has delivered its evaluations', async () => {
    serveInstances(fleet(250));
    config.on(GetComplianceDetailsByConfigRuleCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));
    await expect(handler(aScheduledEvent())).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(new Set(allEvaluations().map((e) => e.ComplianceResourceId)).size).toBe(250);
    expect(allEvaluations().some((e) => e.ComplianceType === 'NOT_APPLICABLE')).toBe(false);
  });

  it('stops the cleanup listing when the sweep fails', async () => {
    ec2.on(DescribeInstancesCommand).rejects(awsError('RequestLimitExceeded'));
    // A listing that never ends on its own: only the failed sweep can stop it.
    config.on(GetComplianceDetailsByConfigRuleCommand).callsFake(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { EvaluationResults: [], NextToken: 'more' };
    });
    await expect(handler(aScheduledEvent())).rejects.toMatchObject({ name: 'RequestLimitExceeded' });
    // Three chains (one per compliance type), each stopped at its next page.
    expect(config.commandCalls(GetComplianceDetailsByConfigRuleCommand).length).toBeLessThanOrEqual(6);
  });

  it('does not retry FailedEvaluations that name nothing it sent', async () => {
    serveInstances(fleet(2));
    config.on(PutEvaluationsCommand).resolves({
      FailedEvaluations: [{ ComplianceResourceType: 'AWS::EC2::Instance', ComplianceResourceId: 'i-0somebodyelse0000', ComplianceType: 'COMPLIANT', OrderingTimestamp: new Date(SWEEP_TIME) }],
    });
    const summary = await handler(aScheduledEvent());
    expect(config).toHaveReceivedCommandTimes(PutEvaluationsCommand, 1);
    expect(summary.counts.COMPLIANT).toBe(2);
  });

  it('surfaces EC2 throttling during paging', async () => {
    ec2.on(DescribeInstancesCommand).rejects(awsError('RequestLimitExceeded'));
    await expect(handler(aScheduledEvent())).rejects.toMatchObject({ name: 'RequestLimitExceeded' });
    expect(config).not.toHaveReceivedCommand(PutEvaluationsCommand);
  });
});

/** Serves what Config would hold after `evaluations` were written: paged 100 a page, by compliance type. */
function holdResults(evaluations: readonly Evaluation[], delayMs = 0): void {
  const byType = new Map<string, EvaluationResult[]>();
  for (const e of evaluations) {
    const results = byType.get(e.ComplianceType!) ?? [];
    results.push({
      EvaluationResultIdentifier: {
        EvaluationResultQualifier: { ConfigRuleName: RULE_NAME, ResourceType: e.ComplianceResourceType, ResourceId: e.ComplianceResourceId },
        OrderingTimestamp: e.OrderingTimestamp,
      },
      ComplianceType: e.ComplianceType,
      Annotation: e.Annotation,
    });
    byType.set(e.ComplianceType!, results);
  }
  config.on(GetComplianceDetailsByConfigRuleCommand).callsFake(async (input: { ComplianceTypes: string[]; NextToken?: string }) => {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    const results = byType.get(input.ComplianceTypes[0]!) ?? [];
    const start = Number(input.NextToken ?? 0);
    return { EvaluationResults: results.slice(start, start + 100), NextToken: start + 100 < results.length ? String(start + 100) : undefined };
  });
}

describe('a sweep writes only what changed (AWS Config bills every evaluation it records)', () => {
  const shape = (i: number) => ({
    hopLimit: i % 7 === 0 ? 1 : 2,
    // Out of ClusterNames: NOT_APPLICABLE, listed and compared like the others.
    ...(i % 11 === 0 ? { tags: managedNodeTags('staging') } : {}),
  });
  const params = { ClusterNames: 'prod' };

  async function firstSweep(instances: Instance[]): Promise<Evaluation[]> {
    serveInstances(instances);
    await handler(aScheduledEvent({ ruleParameters: params }));
    const written = allEvaluations();
    config.resetHistory();
    return written;
  }

  it('writes nothing when the fleet has not changed', async () => {
    const instances = fleet(1250, shape);
    const written = await firstSweep(instances);
    expect(written).toHaveLength(1250);
    expect(new Set(written.map((e) => e.ComplianceType))).toEqual(new Set(['COMPLIANT', 'NON_COMPLIANT', 'NOT_APPLICABLE']));

    holdResults(written);
    const summary = await handler(aScheduledEvent({ ruleParameters: params }));

    expect(config).not.toHaveReceivedCommand(PutEvaluationsCommand);
    expect(summary).toMatchObject({ swept: 1250, unchanged: 1250, cleanedUp: 0, counts: { COMPLIANT: 0, NON_COMPLIANT: 0, NOT_APPLICABLE: 0 } });
  });

  it('writes the node whose result changed, the new node and the stale result, and nothing else', async () => {
    const instances = fleet(300, shape);
    const written = await firstSweep(instances);
    holdResults(written.map((e) => ({ ...e, OrderingTimestamp: new Date('2026-11-26T00:00:00.000Z') })));

    const fixed = anEc2Instance({ instanceId: instances[7]!.InstanceId!, hopLimit: 2 });
    const relabelled = anEc2Instance({ instanceId: instances[8]!.InstanceId!, hopLimit: 3 }); // still compliant, new annotation
    const added = anEc2Instance({ instanceId: 'i-0added0000000000', hopLimit: 1 });
    serveInstances([...instances.slice(0, 7), fixed, relabelled, ...instances.slice(9, 299), added]); // the last one is gone
    const summary = await handler(aScheduledEvent({ ruleParameters: params }));

    const now = allEvaluations().map((e) => [e.ComplianceResourceId, e.ComplianceType]);
    expect(now).toEqual(
      expect.arrayContaining([
        [instances[7]!.InstanceId, 'COMPLIANT'],
        [instances[8]!.InstanceId, 'COMPLIANT'],
        ['i-0added0000000000', 'NON_COMPLIANT'],
        [instances[299]!.InstanceId, 'NOT_APPLICABLE'],
      ]),
    );
    expect(now).toHaveLength(4);
    expect(summary).toMatchObject({ swept: 300, unchanged: 297, cleanedUp: 1 });
  });

  it('bounds the verdicts it holds: past the limit the sweep waits for the listing, and still writes nothing unchanged', async () => {
    const instances = fleet(2500, shape);
    const written = await firstSweep(instances);
    holdResults(written, 2);
    const order: string[] = [];
    config.on(GetComplianceDetailsByConfigRuleCommand).callsFake(async (input: { ComplianceTypes: string[]; NextToken?: string }) => {
      order.push('list');
      await new Promise((resolve) => setTimeout(resolve, 2));
      const results = written
        .filter((e) => e.ComplianceType === input.ComplianceTypes[0])
        .map((e) => ({
          EvaluationResultIdentifier: {
            EvaluationResultQualifier: { ConfigRuleName: RULE_NAME, ResourceType: e.ComplianceResourceType, ResourceId: e.ComplianceResourceId },
            OrderingTimestamp: e.OrderingTimestamp,
          },
          ComplianceType: e.ComplianceType,
          Annotation: e.Annotation,
        }));
      const start = Number(input.NextToken ?? 0);
      return { EvaluationResults: results.slice(start, start + 100), NextToken: start + 100 < results.length ? String(start + 100) : undefined };
    });
    ec2.on(DescribeInstancesCommand).callsFake((input: { MaxResults?: number; NextToken?: string }) => {
      order.push('describe');
      const start = Number(input.NextToken ?? 0);
      const next = start + 1000 < instances.length ? String(start + 1000) : undefined;
      return { Reservations: [{ Instances: instances.slice(start, start + 1000) }], NextToken: next };
    });

    const rule = createInstanceRule({ ec2: new EC2Client({}), logger: silent });
    const summary = await evaluateRuleEvent(aScheduledEvent({ ruleParameters: params }), rule, {
      config: new ConfigServiceClient({}),
      maxHeldVerdicts: 50,
    });

    expect(config).not.toHaveReceivedCommand(PutEvaluationsCommand);
    expect(summary).toMatchObject({ swept: 2500, unchanged: 2500 });
    // The first page filled the hold: the second page was read only after the whole listing.
    const secondPage = order.indexOf('describe', order.indexOf('describe') + 1);
    expect(order.lastIndexOf('list')).toBeLessThan(secondPage);
  });
});

describe('metrics', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('counts evaluations by compliance type, the sweep size and exemptions (EMF)', async () => {
    const dimensions = vi.spyOn(Metrics.prototype, 'addDimension');
    const added = vi.spyOn(Metrics.prototype, 'addMetric');
    const exemptions = ['until=2026-12-01', 'until=2026-12-24;reason=x', 'forever'];
    serveInstances(
      fleet(5, (i) => ({
        hopLimit: i === 0 ? 1 : 2,
        ...(exemptions[i] === undefined ? {} : { tags: { ...managedNodeTags(), 'imds-guard/exempt': exemptions[i] } }),
      })),
    );

    await handler(aScheduledEvent());

    const calls = added.mock.calls.map(([name, , value]) => [name, value]);
    expect(dimensions.mock.calls).toEqual([
      ['ComplianceType', 'COMPLIANT'],
      ['ComplianceType', 'NON_COMPLIANT'],
      ['ComplianceType', 'NOT_APPLICABLE'],
    ]);
    expect(calls).toEqual([
      ['Evaluations', 4],
      ['Evaluations', 1],
      ['Evaluations', 0],
      ['SweepInstances', 5],
      ['UnchangedResultsSkipped', 0],
      ['StaleResultsCleaned', 0],
      ['ExemptNodes', 2],
      ['ExemptionsIgnored', 1],
    ]);
  });

  it('says in the log line and a metric when AWS Config records instances only daily', async () => {
    config.on(DescribeConfigurationRecordersCommand).resolves({
      ConfigurationRecorders: [{ name: 'default', recordingMode: { recordingFrequency: 'DAILY' } }],
    });
    config.on(DescribeConfigurationRecorderStatusCommand).resolves({ ConfigurationRecordersStatus: [{ name: 'default', recording: true }] });
    const dimensions = vi.spyOn(Metrics.prototype, 'addDimension');
    const added = vi.spyOn(Metrics.prototype, 'addMetric');
    const info = vi.spyOn(logger, 'info').mockImplementation(() => {});
    serveInstances(fleet(2, () => ({ hopLimit: 2 })));

    const summary = await handler(aScheduledEvent());

    const daily = [{ resourceType: 'AWS::EC2::Instance', recorder: 'default', recording: 'daily' }];
    expect(summary.recorder).toEqual(daily);
    expect(info).toHaveBeenCalledWith('evaluation delivered', expect.objectContaining({ recorder: daily }));
    expect(dimensions).toHaveBeenCalledWith('ResourceType', 'AWS::EC2::Instance');
    expect(added.mock.calls.map(([name, , value]) => [name, value])).toContainEqual(['RecordedContinuously', 0]);
  });

  it('emits no recorder metric, and still sweeps, when the recorder cannot be read', async () => {
    config.on(DescribeConfigurationRecordersCommand).rejects(awsError('AccessDeniedException', 'not allowed'));
    const added = vi.spyOn(Metrics.prototype, 'addMetric');
    serveInstances(fleet(2, () => ({ hopLimit: 2 })));

    const summary = await handler(aScheduledEvent());

    expect(summary.recorder).toEqual([{ resourceType: 'AWS::EC2::Instance', recording: 'unknown', reason: 'AccessDeniedException: not allowed' }]);
    expect(summary.counts.COMPLIANT).toBe(2);
    expect(added.mock.calls.map(([name]) => name)).not.toContain('RecordedContinuously');
  });
});
