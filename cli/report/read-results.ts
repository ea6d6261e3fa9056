/**
 * Reads the rules' results through AWS Config: across an organization through an aggregator,
 * or in the account and region the credentials reach. Read-only, paged.
 */
import {
  DescribeConfigRulesCommand,
  paginateDescribeAggregateComplianceByConfigRules,
  paginateGetAggregateComplianceDetailsByConfigRule,
  paginateGetComplianceDetailsByConfigRule,
  type ComplianceType,
  type ConfigServiceClient,
  type EvaluationResult,
} from '@aws-sdk/client-config-service';
import type { AwsCallContext } from '../common.ts';

export type RuleKind = 'nodes' | 'sources';

export interface RuleRef {
  readonly name: string;
  readonly kind: RuleKind;
}

export interface RuleResult {
  readonly accountId: string;
  readonly region: string;
  readonly ruleName: string;
  readonly ruleKind: RuleKind;
  readonly resourceType: string;
  readonly resourceId: string;
  readonly compliance: string;
  readonly annotation: string;
  readonly recordedAt: string | undefined;
}

export interface ReadOutcome {
  readonly results: readonly RuleResult[];
  /** Rules with no results anywhere (a sources rule not deployed, or nothing evaluated yet). */
  readonly rulesWithoutResults: readonly string[];
}

/** An AWS call that failed, with what was being read: the CLI turns it into one clear line. */
export class ReadError extends Error {
  override readonly name = 'ReadError';
  readonly context: AwsCallContext;
  constructor(cause: unknown, context: AwsCallContext) {
    super((cause as Error).message, { cause });
    this.context = context;
  }
}

const AGGREGATE_NEEDS =
  'The report needs config:DescribeAggregateComplianceByConfigRules and config:GetAggregateComplianceDetailsByConfigRule on the aggregator, in the account that owns it.';
const ACCOUNT_NEEDS = 'The report needs config:DescribeConfigRules and config:GetComplianceDetailsByConfigRule on the rules, in that account.';
// Detail pages of different accounts are independent: a few at a time, well inside Config's rates.
const DETAIL_CONCURRENCY = 4;
// Every type GetComplianceDetailsByConfigRule lets a caller filter on: exemptions and retired nodes are NOT_APPLICABLE.
const ACCOUNT_TYPES: ComplianceType[] = ['COMPLIANT', 'NON_COMPLIANT', 'NOT_APPLICABLE'];

export async function readAggregator(
  config: ConfigServiceClient,
  aggregator: string,
  rules: readonly RuleRef[],
  progress: (text: string) => void,
): Promise<ReadOutcome> {
  const pairs: { rule: RuleRef; accountId: string; region: string }[] = [];
  for (const rule of rules) {
    const before = pairs.length;
    await guarded({ action: 'config:DescribeAggregateComplianceByConfigRules', target: `aggregator ${aggregator}`, needs: AGGREGATE_NEEDS }, async () => {
      const input = { ConfigurationAggregatorName: aggregator, Filters: { ConfigRuleName: rule.name } };
      for await (const page of paginateDescribeAggregateComplianceByConfigRules({ client: config }, input)) {
        for (const entry of page.AggregateComplianceByConfigRules ?? []) {
          if (entry.AccountId && entry.AwsRegion) pairs.push({ rule, accountId: entry.AccountId, region: entry.AwsRegion });
        }
      }
    });
    progress(`rule ${rule.name}: results in ${pairs.length - before} account/region pair(s)`);
  }

  const results: RuleResult[] = [];
  let done = 0;
  await eachLimited(pairs, DETAIL_CONCURRENCY, async ({ rule, accountId, region }) => {
    const target = `account ${accountId} (${region}) through aggregator ${aggregator}`;
    await guarded({ action: 'config:GetAggregateComplianceDetailsByConfigRule', target, needs: AGGREGATE_NEEDS }, async () => {
      const input = { ConfigurationAggregatorName: aggregator, ConfigRuleName: rule.name, AccountId: accountId, AwsRegion: region, Limit: 100 };
      for await (const page of paginateGetAggregateComplianceDetailsByConfigRule({ client: config }, input)) {
        for (const result of page.AggregateEvaluationResults ?? []) results.push(toResult(result, rule, accountId, region));
      }
    });
    done++;
    if (done % 25 === 0 || done === pairs.length) progress(`${done}/${pairs.length} account/region pair(s) read, ${results.length} result(s)`);
  });
  const withResults = new Set(pairs.map((p) => p.rule.name));
  return { results, rulesWithoutResults: rules.filter((r) => !withResults.has(r.name)).map((r) => r.name) };
}

export interface AccountScope {
  readonly accountId: string;
  readonly region: string;
}

/** The account and region the credentials reach, read from the rule's ARN. */
export async function readAccountScope(config: ConfigServiceClient, rule: RuleRef): Promise<AccountScope> {
  const out = await guarded({ action: 'config:DescribeConfigRules', needs: ACCOUNT_NEEDS }, () =>
    config.send(new DescribeConfigRulesCommand({ ConfigRuleNames: [rule.name] })),
  );
  const arn = out.ConfigRules?.[0]?.ConfigRuleArn ?? '';
  const match = /^arn:[\w-]+:config:([\w-]+):(\d{12}):/.exec(arn);
  if (match === null) throw new Error(`DescribeConfigRules gave no usable ARN for rule ${rule.name}: "${arn}"`);
  return { region: match[1]!, accountId: match[2]! };
}

export async function readAccount(
  config: ConfigServiceClient,
  scope: AccountScope,
  rules: readonly RuleRef[],
  progress: (text: string) => void,
): Promise<ReadOutcome> {
  const results: RuleResult[] = [];
  const rulesWithoutResults: string[] = [];
  const target = `account ${scope.accountId} (${scope.region})`;
  for (const rule of rules) {
    const before = results.length;
    try {
      await guarded({ action: 'config:GetComplianceDetailsByConfigRule', target, needs: ACCOUNT_NEEDS }, async () => {
        const input = { ConfigRuleName: rule.name, ComplianceTypes: ACCOUNT_TYPES, Limit: 100 };
        for await (const page of paginateGetComplianceDetailsByConfigRule({ client: config }, input)) {
          for (const result of page.EvaluationResults ?? []) results.push(toResult(result, rule, scope.accountId, scope.region));
        }
      });
    } catch (error) {
      // The sources rule is optional: its absence is reported, not an error.
      if (rule.kind === 'sources' && error instanceof ReadError && (error.cause as Error).name === 'NoSuchConfigRuleException') {
        rulesWithoutResults.push(rule.name);
        progress(`rule ${rule.name}: not deployed here`);
        continue;
      }
      throw error;
    }
    if (results.length === before) rulesWithoutResults.push(rule.name);
    progress(`rule ${rule.name}: ${results.length - before} result(s)`);
  }
  return { results, rulesWithoutResults };
}

function toResult(result: EvaluationResult, rule: RuleRef, accountId: string, region: string): RuleResult {
  const qualifier = result.EvaluationResultIdentifier?.EvaluationResultQualifier;
  return {
    accountId,
    region,
    ruleName: rule.name,
    ruleKind: rule.kind,
    resourceType: qualifier?.ResourceType ?? 'unknown',
    resourceId: qualifier?.ResourceId ?? 'unknown',
    compliance: result.ComplianceType ?? 'INSUFFICIENT_DATA',
    annotation: result.Annotation ?? '',
    recordedAt: result.ResultRecordedTime?.toISOString(),
  };
}

async function guarded<T>(context: AwsCallContext, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw error instanceof ReadError ? error : new ReadError(error, context);
  }
}

async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failed = true; // the other workers stop taking new items
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
