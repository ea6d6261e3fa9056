import {
  DescribeAggregateComplianceByConfigRulesCommand,
  DescribeConfigRulesCommand,
  GetAggregateComplianceDetailsByConfigRuleCommand,
  paginateDescribeAggregateComplianceByConfigRules,
  paginateGetAggregateComplianceDetailsByConfigRule,
  type AggregateComplianceByConfigRule,
  type AggregateEvaluationResult,
} from '@aws-sdk/client-config-service';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator, type SeededEvaluation } from '../../emulator/index.ts';
import { clientsFor, destroy, rejectionOf, type Clients } from './clients.ts';

let emulator: Emulator;
let clients: Clients;
const AGGREGATOR = 'org-view';
const ACCOUNTS = Array.from({ length: 40 }, (_, i) => String(200000000000 + i));
const REGIONS = ['us-east-1', 'eu-west-1'];

beforeAll(async () => {
  emulator = await startEmulator({ accountId: '111122223333', region: 'us-east-1' });
  clients = clientsFor(emulator, { maxAttempts: 1 });
  emulator.createAggregator(AGGREGATOR);
  // The emulator's own account: results written through PutEvaluations' store.
  emulator.config.seedEvaluation('eks-imds-guard', { resourceType: 'AWS::EC2::Instance', resourceId: 'i-local', complianceType: 'NON_COMPLIANT', annotation: 'cluster prod: HopLimit 1 (want >=2)' });
  for (const accountId of ACCOUNTS) {
    for (const region of REGIONS) {
      emulator.seedAccountEvaluations({ accountId, region }, 'eks-imds-guard', [
        node(`i-${accountId}-${region}-a`, 'COMPLIANT'),
        node(`i-${accountId}-${region}-b`, accountId.endsWith('7') ? 'NON_COMPLIANT' : 'COMPLIANT'),
      ]);
    }
  }
  emulator.seedAccountEvaluations({ accountId: '999999999999', region: 'eu-west-1' }, 'eks-imds-guard', Array.from({ length: 250 }, (_, i) => node(`i-big-${i}`, i % 5 === 0 ? 'COMPLIANT' : 'NON_COMPLIANT')));
});

beforeEach(() => {
  emulator.resetCalls();
  emulator.deniedOperations.clear();
});

afterAll(async () => {
  destroy(clients);
  await emulator.close();
});

function node(resourceId: string, complianceType: SeededEvaluation['complianceType']): SeededEvaluation {
  return { resourceType: 'AWS::EC2::Instance', resourceId, complianceType, annotation: `cluster prod: ${complianceType}` };
}

async function allRuleCompliance(limit?: number): Promise<AggregateComplianceByConfigRule[]> {
  const found: AggregateComplianceByConfigRule[] = [];
  const input = { ConfigurationAggregatorName: AGGREGATOR, Filters: { ConfigRuleName: 'eks-imds-guard' }, ...(limit ? { Limit: limit } : {}) };
  for await (const page of paginateDescribeAggregateComplianceByConfigRules({ client: clients.config }, input)) {
    found.push(...(page.AggregateComplianceByConfigRules ?? []));
  }
  return found;
}

describe('DescribeAggregateComplianceByConfigRules', () => {
  it('lists the rule once per account and region, across pages, with the non-compliant count', async () => {
    const found = await allRuleCompliance(25);
    // 40 accounts x 2 regions, the big account and the emulator's own account.
    expect(found).toHaveLength(82);
    expect(emulator.calls.get('config:DescribeAggregateComplianceByConfigRules')).toBe(Math.ceil(82 / 25));
    expect(new Set(found.map((r) => `${r.AccountId}/${r.AwsRegion}`)).size).toBe(82);
    expect(found.find((r) => r.AccountId === '999999999999')?.Compliance).toEqual({
      ComplianceType: 'NON_COMPLIANT',
      ComplianceContributorCount: { CappedCount: 100, CapExceeded: true },
    });
    expect(found.find((r) => r.AccountId === '200000000001')?.Compliance).toEqual({ ComplianceType: 'COMPLIANT' });
    expect(found.find((r) => r.AccountId === '111122223333')).toMatchObject({ AwsRegion: 'us-east-1', Compliance: { ComplianceType: 'NON_COMPLIANT' } });
  });

  it('answers up to 1,000 a page by default, and filters by compliance, account and region', async () => {
    await allRuleCompliance();
    expect(emulator.calls.get('config:DescribeAggregateComplianceByConfigRules')).toBe(1);
    const out = await clients.config.send(
      new DescribeAggregateComplianceByConfigRulesCommand({
        ConfigurationAggregatorName: AGGREGATOR,
        Filters: { ComplianceType: 'NON_COMPLIANT', AwsRegion: 'eu-west-1' },
      }),
    );
    expect(out.AggregateComplianceByConfigRules?.map((r) => r.AccountId).sort()).toEqual(['200000000007', '200000000017', '200000000027', '200000000037', '999999999999']);
  });

  it.each([
    [{ Limit: 1001 }, 'ValidationException'],
    [{ Filters: { ComplianceType: 'NOT_APPLICABLE' as const } }, 'InvalidParameterValueException'],
    [{ NextToken: 'bogus' }, 'InvalidNextTokenException'],
  ])('rejects %j with %s', async (extra, code) => {
    const error = await rejectionOf(clients.config.send(new DescribeAggregateComplianceByConfigRulesCommand({ ConfigurationAggregatorName: AGGREGATOR, ...extra })));
    expect(error.name).toBe(code);
  });

  it('says when the aggregator does not exist', async () => {
    const error = await rejectionOf(clients.config.send(new DescribeAggregateComplianceByConfigRulesCommand({ ConfigurationAggregatorName: 'nope' })));
    expect(error.name).toBe('NoSuchConfigurationAggregatorException');
  });
});

describe('GetAggregateComplianceDetailsByConfigRule', () => {
  const source = { ConfigurationAggregatorName: AGGREGATOR, ConfigRuleName: 'eks-imds-guard', AccountId: '999999999999', AwsRegion: 'eu-west-1' };

  it('pages one source account and region at 100 results a page at most', async () => {
    const found: AggregateEvaluationResult[] = [];
    for await (const page of paginateGetAggregateComplianceDetailsByConfigRule({ client: clients.config }, { ...source, Limit: 100 })) {
      found.push(...(page.AggregateEvaluationResults ?? []));
    }
    expect(found).toHaveLength(250);
    expect(emulator.calls.get('config:GetAggregateComplianceDetailsByConfigRule')).toBe(3);
    expect(found[0]).toMatchObject({
      AccountId: '999999999999',
      AwsRegion: 'eu-west-1',
      ComplianceType: 'COMPLIANT',
      Annotation: 'cluster prod: COMPLIANT',
      EvaluationResultIdentifier: { EvaluationResultQualifier: { ConfigRuleName: 'eks-imds-guard', ResourceType: 'AWS::EC2::Instance', ResourceId: 'i-big-0' } },
    });
    expect(found[0]?.ResultRecordedTime).toBeInstanceOf(Date);
  });

  it('answers 50 a page by default and filters by compliance type', async () => {
    const first = await clients.config.send(new GetAggregateComplianceDetailsByConfigRuleCommand({ ...source, ComplianceType: 'COMPLIANT' }));
    expect(first.AggregateEvaluationResults).toHaveLength(50);
    expect(first.NextToken).toBeUndefined();
    const page = await clients.config.send(new GetAggregateComplianceDetailsByConfigRuleCommand(source));
    expect(page.AggregateEvaluationResults).toHaveLength(50);
    expect(page.NextToken).toBeDefined();
  });

  it("reads the emulator's own account from what the rule wrote", async () => {
    const out = await clients.config.send(new GetAggregateComplianceDetailsByConfigRuleCommand({ ...source, AccountId: '111122223333', AwsRegion: 'us-east-1' }));
    expect(out.AggregateEvaluationResults?.map((r) => r.EvaluationResultIdentifier?.EvaluationResultQualifier?.ResourceId)).toEqual(['i-local']);
  });

  it.each([
    [{ Limit: 101 }, 'ValidationException'],
    [{ AccountId: '12345' }, 'ValidationException'],
    [{ ComplianceType: 'NOT_APPLICABLE' as const }, 'InvalidParameterValueException'],
    [{ ConfigurationAggregatorName: 'nope' }, 'NoSuchConfigurationAggregatorException'],
  ])('rejects %j with %s', async (extra, code) => {
    const error = await rejectionOf(clients.config.send(new GetAggregateComplianceDetailsByConfigRuleCommand({ ...source, ...extra })));
    expect(error.name).toBe(code);
  });

  it('answers AccessDeniedException naming the action when the caller may not call it', async () => {
    emulator.deniedOperations.add('config:GetAggregateComplianceDetailsByConfigRule');
    const error = await rejectionOf(clients.config.send(new GetAggregateComplianceDetailsByConfigRuleCommand(source)));
    expect(error.name).toBe('AccessDeniedException');
    expect(error.message).toContain('config:GetAggregateComplianceDetailsByConfigRule');
  });
});

describe('DescribeConfigRules', () => {
  it("gives the rule's ARN, which names the account, and refuses unknown rules", async () => {
    const out = await clients.config.send(new DescribeConfigRulesCommand({ ConfigRuleNames: ['eks-imds-guard'] }));
    expect(out.ConfigRules?.[0]?.ConfigRuleArn).toMatch(/^arn:aws:config:us-east-1:111122223333:config-rule\/config-rule-/);
    const error = await rejectionOf(clients.config.send(new DescribeConfigRulesCommand({ ConfigRuleNames: ['missing'] })));
    expect(error.name).toBe('NoSuchConfigRuleException');
  });
});
