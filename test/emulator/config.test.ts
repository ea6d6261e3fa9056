import {
  DescribeConfigurationRecordersCommand,
  DescribeConfigurationRecorderStatusCommand,
  GetComplianceDetailsByConfigRuleCommand,
  PutEvaluationsCommand,
  paginateGetComplianceDetailsByConfigRule,
  type Evaluation,
} from '@aws-sdk/client-config-service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../emulator/index.ts';
import { clientsFor, destroy, rejectionOf, type Clients } from './clients.ts';

let emulator: Emulator;
let clients: Clients;

beforeAll(async () => {
  emulator = await startEmulator({ accountId: '111122223333', region: 'eu-west-1' });
  clients = clientsFor(emulator, { maxAttempts: 1 });
});

afterAll(async () => {
  destroy(clients);
  await emulator.close();
});

function evaluation(resourceId: string, complianceType: Evaluation['ComplianceType'], annotation?: string): Evaluation {
  return {
    ComplianceResourceType: 'AWS::EC2::Instance',
    ComplianceResourceId: resourceId,
    ComplianceType: complianceType,
    OrderingTimestamp: new Date('2026-01-02T03:04:05.678Z'),
    ...(annotation === undefined ? {} : { Annotation: annotation }),
  };
}

describe('PutEvaluations', () => {
  it('records evaluations under the rule its result token was issued for', async () => {
    const token = emulator.resultTokenFor('record-rule');
    const out = await clients.config.send(
      new PutEvaluationsCommand({ ResultToken: token, Evaluations: [evaluation('i-1', 'NON_COMPLIANT', 'hop limit 1 < 2')] }),
    );
    expect(out.FailedEvaluations).toEqual([]);
    expect(emulator.evaluations('record-rule')).toEqual([
      {
        configRuleName: 'record-rule',
        resourceType: 'AWS::EC2::Instance',
        resourceId: 'i-1',
        complianceType: 'NON_COMPLIANT',
        annotation: 'hop limit 1 < 2',
        orderingTimestamp: new Date('2026-01-02T03:04:05.678Z'),
        resultRecordedTime: expect.any(Date),
        configRuleInvokedTime: expect.any(Date),
      },
    ]);
  });

  it('rejects 101 evaluations and a 257-character annotation with ValidationException', async () => {
    const token = emulator.resultTokenFor('limits-rule');
    const tooMany = Array.from({ length: 101 }, (_, i) => evaluation(`i-${i}`, 'COMPLIANT'));
    const many = await rejectionOf(clients.config.send(new PutEvaluationsCommand({ ResultToken: token, Evaluations: tooMany })));
    expect(many.name).toBe('ValidationException');
    expect(many.message).toContain('less than or equal to 100');

    const long = await rejectionOf(
      clients.config.send(new PutEvaluationsCommand({ ResultToken: token, Evaluations: [evaluation('i-1', 'COMPLIANT', 'x'.repeat(257))] })),
    );
    expect(long.name).toBe('ValidationException');

    await clients.config.send(
      new PutEvaluationsCommand({ ResultToken: token, Evaluations: [...tooMany.slice(0, 99), evaluation('i-x', 'COMPLIANT', 'x'.repeat(256))] }),
    );
    expect(emulator.evaluations('limits-rule')).toHaveLength(100);
  });

  it('rejects INSUFFICIENT_DATA and an unknown result token', async () => {
    const token = emulator.resultTokenFor('token-rule');
    const insufficient = await rejectionOf(
      clients.config.send(new PutEvaluationsCommand({ ResultToken: token, Evaluations: [evaluation('i-1', 'INSUFFICIENT_DATA')] })),
    );
    expect(insufficient.name).toBe('InvalidParameterValueException');
    const unknown = await rejectionOf(
      clients.config.send(new PutEvaluationsCommand({ ResultToken: 'not-a-token', Evaluations: [evaluation('i-1', 'COMPLIANT')] })),
    );
    expect(unknown.name).toBe('InvalidResultTokenException');
    expect(emulator.evaluations('token-rule')).toEqual([]);
  });

  it('records nothing in TestMode, whatever the token', async () => {
    emulator.drainComplianceEvents();
    const out = await clients.config.send(
      new PutEvaluationsCommand({ ResultToken: 'TESTMODE', TestMode: true, Evaluations: [evaluation('i-1', 'COMPLIANT')] }),
    );
    expect(out.FailedEvaluations).toEqual([]);
    const token = emulator.resultTokenFor('testmode-rule');
    await clients.config.send(new PutEvaluationsCommand({ ResultToken: token, TestMode: true, Evaluations: [evaluation('i-1', 'COMPLIANT')] }));
    expect(emulator.evaluations('testmode-rule')).toEqual([]);
    expect(emulator.complianceEvents()).toEqual([]);
  });
});

describe('compliance change events', () => {
  it('emits on first evaluation and on change, not on a repeat', async () => {
    emulator.drainComplianceEvents();
    const invokedAt = new Date('2026-01-02T03:04:06.000Z');
    const token = emulator.resultTokenFor('events-rule', invokedAt);
    const put = (e: Evaluation) => clients.config.send(new PutEvaluationsCommand({ ResultToken: token, Evaluations: [e] }));

    await put(evaluation('i-0abc', 'NON_COMPLIANT', 'HttpPutResponseHopLimit is 1'));
    const [first, ...rest] = emulator.drainComplianceEvents();
    expect(rest).toEqual([]);
    const rule = emulator.config.rule('events-rule');
    expect(first).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      'detail-type': 'Config Rules Compliance Change',
      source: 'aws.config',
      account: '111122223333',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      region: 'eu-west-1',
      resources: [],
      detail: {
        resourceId: 'i-0abc',
        awsRegion: 'eu-west-1',
        awsAccountId: '111122223333',
        configRuleName: 'events-rule',
        recordVersion: '1.0',
        configRuleARN: rule?.configRuleArn,
        messageType: 'ComplianceChangeNotification',
        newEvaluationResult: {
          evaluationResultIdentifier: {
            evaluationResultQualifier: {
              configRuleName: 'events-rule',
              resourceType: 'AWS::EC2::Instance',
              resourceId: 'i-0abc',
              evaluationMode: 'DETECTIVE',
            },
            orderingTimestamp: '2026-01-02T03:04:05.678Z',
          },
          complianceType: 'NON_COMPLIANT',
          resultRecordedTime: expect.any(String),
          configRuleInvokedTime: '2026-01-02T03:04:06.000Z',
          annotation: 'HttpPutResponseHopLimit is 1',
        },
        notificationCreationTime: expect.any(String),
        resourceType: 'AWS::EC2::Instance',
      },
    });
    expect(first?.detail).not.toHaveProperty('oldEvaluationResult');
    expect(rule?.configRuleArn).toMatch(/^arn:aws:config:eu-west-1:111122223333:config-rule\/config-rule-[a-z0-9]{6}$/);

    await put(evaluation('i-0abc', 'NON_COMPLIANT', 'still 1'));
    expect(emulator.complianceEvents()).toEqual([]);

    await put(evaluation('i-0abc', 'COMPLIANT'));
    const [change] = emulator.drainComplianceEvents();
    expect(change?.detail.newEvaluationResult.complianceType).toBe('COMPLIANT');
    expect(change?.detail.newEvaluationResult).not.toHaveProperty('annotation');
    expect(change?.detail.oldEvaluationResult?.complianceType).toBe('NON_COMPLIANT');
    expect(change?.detail.oldEvaluationResult?.annotation).toBe('still 1');
  });
});

describe('GetComplianceDetailsByConfigRule', () => {
  it('pages with Limit and filters by ComplianceTypes', async () => {
    const token = emulator.resultTokenFor('paging-rule');
    for (let batch = 0; batch < 3; batch++) {
      const evaluations = Array.from({ length: 100 }, (_, i) => {
        const n = batch * 100 + i;
        return evaluation(`i-${String(n).padStart(3, '0')}`, n % 3 === 0 ? 'NON_COMPLIANT' : 'COMPLIANT', `n=${n}`);
      });
      await clients.config.send(new PutEvaluationsCommand({ ResultToken: token, Evaluations: evaluations }));
    }
    const pageSizes: number[] = [];
    const results = [];
    for await (const page of paginateGetComplianceDetailsByConfigRule(
      { client: clients.config, pageSize: 100 },
      { ConfigRuleName: 'paging-rule', ComplianceTypes: ['NON_COMPLIANT'] },
    )) {
      pageSizes.push(page.EvaluationResults?.length ?? 0);
      results.push(...(page.EvaluationResults ?? []));
    }
    expect(pageSizes).toEqual([100]);
    expect(results[0]).toEqual({
      EvaluationResultIdentifier: {
        EvaluationResultQualifier: {
          ConfigRuleName: 'paging-rule',
          ResourceType: 'AWS::EC2::Instance',
          ResourceId: 'i-000',
          EvaluationMode: 'DETECTIVE',
        },
        OrderingTimestamp: new Date('2026-01-02T03:04:05.678Z'),
      },
      ComplianceType: 'NON_COMPLIANT',
      ResultRecordedTime: expect.any(Date),
      ConfigRuleInvokedTime: expect.any(Date),
      Annotation: 'n=0',
    });

    const all: string[] = [];
    let pages = 0;
    for await (const page of paginateGetComplianceDetailsByConfigRule({ client: clients.config, pageSize: 100 }, { ConfigRuleName: 'paging-rule' })) {
      pages++;
      all.push(...(page.EvaluationResults ?? []).map((r) => r.EvaluationResultIdentifier?.EvaluationResultQualifier?.ResourceId ?? ''));
    }
    expect(pages).toBe(3);
    expect(new Set(all).size).toBe(300);

    const defaultPage = await clients.config.send(new GetComplianceDetailsByConfigRuleCommand({ ConfigRuleName: 'paging-rule' }));
    expect(defaultPage.EvaluationResults).toHaveLength(10);
    expect(defaultPage.NextToken).toBeDefined();
  });

  it('rejects Limit over 100, unknown rules, unknown tokens and INSUFFICIENT_DATA filters', async () => {
    emulator.resultTokenFor('errors-rule');
    const send = (input: ConstructorParameters<typeof GetComplianceDetailsByConfigRuleCommand>[0]) =>
      rejectionOf(clients.config.send(new GetComplianceDetailsByConfigRuleCommand(input)));
    expect((await send({ ConfigRuleName: 'errors-rule', Limit: 101 })).name).toBe('ValidationException');
    expect((await send({ ConfigRuleName: 'no-such-rule' })).name).toBe('NoSuchConfigRuleException');
    expect((await send({ ConfigRuleName: 'errors-rule', NextToken: 'garbage' })).name).toBe('InvalidNextTokenException');
    expect((await send({ ConfigRuleName: 'errors-rule', ComplianceTypes: ['INSUFFICIENT_DATA'] })).name).toBe('InvalidParameterValueException');
  });
});

describe('DescribeConfigurationRecorders / DescribeConfigurationRecorderStatus', () => {
  it('answers for the recorder by name and refuses a name it does not have', async () => {
    emulator.config.setRecorder({ name: 'main', recordingMode: { recordingFrequency: 'DAILY' } });
    const { ConfigurationRecorders } = await clients.config.send(new DescribeConfigurationRecordersCommand({ ConfigurationRecorderNames: ['main'] }));
    expect(ConfigurationRecorders).toEqual([
      expect.objectContaining({
        name: 'main',
        arn: expect.stringMatching(/^arn:aws:config:eu-west-1:111122223333:configuration-recorder\/main\/[0-9a-f]{16}$/),
        recordingMode: { recordingFrequency: 'DAILY' },
        recordingScope: 'PAID',
      }),
    ]);
    const missing = await rejectionOf(clients.config.send(new DescribeConfigurationRecordersCommand({ ConfigurationRecorderNames: ['other'] })));
    expect(missing.name).toBe('NoSuchConfigurationRecorderException');
    const status = await clients.config.send(new DescribeConfigurationRecorderStatusCommand({}));
    expect(status.ConfigurationRecordersStatus).toEqual([expect.objectContaining({ name: 'main', recording: true, lastStatus: 'Success' })]);
  });

  it('lists nothing once the recorder is deleted', async () => {
    emulator.config.setRecorder(undefined);
    expect((await clients.config.send(new DescribeConfigurationRecordersCommand({}))).ConfigurationRecorders).toEqual([]);
    expect((await clients.config.send(new DescribeConfigurationRecorderStatusCommand({}))).ConfigurationRecordersStatus).toEqual([]);
    emulator.config.setRecorder({});
  });
});
