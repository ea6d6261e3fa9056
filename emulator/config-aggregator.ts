import { AwsError } from './errors.ts';
import { SnapshotPager } from './paging.ts';
import { evaluationResultWire, type ComplianceType, type StoredEvaluation } from './config.ts';

type JsonObject = Record<string, unknown>;

/** The emulator's own account and region: their results are the ones the rule functions wrote. */
export interface LocalResults {
  readonly accountId: string;
  readonly region: string;
  ruleNames(): string[];
  evaluations(configRuleName: string): StoredEvaluation[];
}

export type SeededEvaluation = Pick<StoredEvaluation, 'resourceType' | 'resourceId' | 'complianceType'> & Partial<StoredEvaluation>;

interface SourceKey {
  readonly accountId: string;
  readonly region: string;
}

interface RuleCompliance extends SourceKey {
  readonly configRuleName: string;
  readonly results: readonly StoredEvaluation[];
}

// Documented limits: DescribeAggregateComplianceByConfigRules 0-1000 (0 or absent = 1000),
// GetAggregateComplianceDetailsByConfigRule 0-100 (0 or absent = 50).
const DESCRIBE_MAX = 1000;
const DETAILS_MAX = 100;
const DETAILS_DEFAULT = 50;
const FILTER_COMPLIANCE: ReadonlySet<string> = new Set(['COMPLIANT', 'NON_COMPLIANT']);
// The contributor count of a rule's compliance is capped, as AWS caps it.
const CONTRIBUTOR_CAP = 100;

/**
 * AWS Config aggregators over the emulator's own results and results seeded for any other
 * account and region, answering the two aggregate calls the report makes, paged as AWS pages them.
 */
export class ConfigAggregatorService {
  readonly #local: LocalResults;
  readonly #aggregators = new Set<string>();
  /** `account \0 region` -> rule -> `type \0 id` -> result. */
  readonly #seeded = new Map<string, Map<string, Map<string, StoredEvaluation>>>();
  readonly #describePager = new SnapshotPager<RuleCompliance>();
  readonly #detailsPager = new SnapshotPager<StoredEvaluation & SourceKey>();

  constructor(local: LocalResults) {
    this.#local = local;
  }

  createAggregator(name: string): void {
    this.#aggregators.add(name);
  }

  /** A result of `configRuleName` in another account or region, as its own rule would have written it. */
  seedEvaluation(source: SourceKey, configRuleName: string, evaluation: SeededEvaluation): void {
    if (!/^\d{12}$/.test(source.accountId)) throw new AwsError('ValidationException', `account id ${source.accountId} is not 12 digits`);
    const sourceKey = `${source.accountId}\u0000${source.region}`;
    let rules = this.#seeded.get(sourceKey);
    if (rules === undefined) this.#seeded.set(sourceKey, (rules = new Map()));
    let results = rules.get(configRuleName);
    if (results === undefined) rules.set(configRuleName, (results = new Map()));
    const now = new Date();
    results.set(`${evaluation.resourceType}\u0000${evaluation.resourceId}`, {
      orderingTimestamp: now,
      resultRecordedTime: now,
      configRuleInvokedTime: now,
      ...evaluation,
      configRuleName,
    });
  }

  describeAggregateComplianceByConfigRules(input: JsonObject): JsonObject {
    this.#requireAggregator(input);
    const limit = pageLimit(input['Limit'], DESCRIBE_MAX, DESCRIBE_MAX);
    const filters = (input['Filters'] ?? {}) as JsonObject;
    const wanted = filters['ComplianceType'];
    if (wanted !== undefined && !FILTER_COMPLIANCE.has(String(wanted))) {
      throw new AwsError('InvalidParameterValueException', `ComplianceType ${String(wanted)} is not supported as a filter: use COMPLIANT or NON_COMPLIANT.`);
    }
    const { page, nextToken } = this.#page(this.#describePager, input, limit, () =>
      this.#ruleCompliances().filter(
        (rule) =>
          (filters['ConfigRuleName'] === undefined || rule.configRuleName === filters['ConfigRuleName']) &&
          (filters['AccountId'] === undefined || rule.accountId === filters['AccountId']) &&
          (filters['AwsRegion'] === undefined || rule.region === filters['AwsRegion']) &&
          (wanted === undefined || ruleComplianceType(rule.results) === wanted),
      ),
    );
    return {
      AggregateComplianceByConfigRules: page.map((rule) => {
        const complianceType = ruleComplianceType(rule.results);
        const nonCompliant = rule.results.filter((r) => r.complianceType === 'NON_COMPLIANT').length;
        return {
          ConfigRuleName: rule.configRuleName,
          Compliance: {
            ComplianceType: complianceType,
            ...(complianceType === 'NON_COMPLIANT'
              ? { ComplianceContributorCount: { CappedCount: Math.min(nonCompliant, CONTRIBUTOR_CAP), CapExceeded: nonCompliant > CONTRIBUTOR_CAP } }
              : {}),
          },
          AccountId: rule.accountId,
          AwsRegion: rule.region,
        };
      }),
      ...(nextToken === undefined ? {} : { NextToken: nextToken }),
    };
  }

  getAggregateComplianceDetailsByConfigRule(input: JsonObject): JsonObject {
    this.#requireAggregator(input);
    for (const field of ['ConfigRuleName', 'AccountId', 'AwsRegion'] as const) {
      if (typeof input[field] !== 'string' || input[field] === '') {
        throw validation(`Value null at '${field.charAt(0).toLowerCase()}${field.slice(1)}' failed to satisfy constraint: Member must not be null`);
      }
    }
    const accountId = String(input['AccountId']);
    if (!/^\d{12}$/.test(accountId)) throw validation(`Value '${accountId}' at 'accountId' failed to satisfy constraint: Member must satisfy regular expression pattern: \\d{12}`);
    const wanted = input['ComplianceType'];
    if (wanted !== undefined && !FILTER_COMPLIANCE.has(String(wanted))) {
      throw new AwsError('InvalidParameterValueException', `ComplianceType ${String(wanted)} is not supported as a filter: use COMPLIANT or NON_COMPLIANT.`);
    }
    const limit = pageLimit(input['Limit'], DETAILS_MAX, DETAILS_DEFAULT);
    const region = String(input['AwsRegion']);
    const { page, nextToken } = this.#page(this.#detailsPager, input, limit, () =>
      this.#results({ accountId, region }, String(input['ConfigRuleName']))
        .filter((r) => wanted === undefined || r.complianceType === wanted)
        .map((r) => ({ ...r, accountId, region })),
    );
    return {
      AggregateEvaluationResults: page.map((e) => ({ ...evaluationResultWire(e), AccountId: e.accountId, AwsRegion: e.region })),
      ...(nextToken === undefined ? {} : { NextToken: nextToken }),
    };
  }

  #requireAggregator(input: JsonObject): void {
    const name = input['ConfigurationAggregatorName'];
    if (typeof name !== 'string' || name === '') {
      throw validation("Value null at 'configurationAggregatorName' failed to satisfy constraint: Member must not be null");
    }
    if (!this.#aggregators.has(name)) {
      throw new AwsError('NoSuchConfigurationAggregatorException', 'The configuration aggregator does not exist. Check the configuration aggregator name and try again.');
    }
  }

  #page<T>(pager: SnapshotPager<T>, input: JsonObject, limit: number, all: () => T[]): { page: readonly T[]; nextToken: string | undefined } {
    const token = input['NextToken'];
    if (typeof token === 'string' && token !== '') {
      const next = pager.next(token, limit);
      if (next === undefined) throw new AwsError('InvalidNextTokenException', 'The nextToken provided is invalid');
      return next;
    }
    return pager.first(all(), limit);
  }

  #results(source: SourceKey, configRuleName: string): StoredEvaluation[] {
    if (source.accountId === this.#local.accountId && source.region === this.#local.region) return this.#local.evaluations(configRuleName);
    return [...(this.#seeded.get(`${source.accountId}\u0000${source.region}`)?.get(configRuleName)?.values() ?? [])];
  }

  /** Every (rule, account, region) with results, ordered by account, region and rule. */
  #ruleCompliances(): RuleCompliance[] {
    const found: RuleCompliance[] = [];
    const local = { accountId: this.#local.accountId, region: this.#local.region };
    for (const configRuleName of this.#local.ruleNames()) found.push({ ...local, configRuleName, results: this.#local.evaluations(configRuleName) });
    for (const [sourceKey, rules] of this.#seeded) {
      const [accountId = '', region = ''] = sourceKey.split('\u0000');
      if (accountId === local.accountId && region === local.region) continue;
      for (const [configRuleName, results] of rules) found.push({ accountId, region, configRuleName, results: [...results.values()] });
    }
    // Rules without results are not listed, as AWS documents.
    return found
      .filter((rule) => rule.results.length > 0)
      .sort((a, b) => a.accountId.localeCompare(b.accountId) || a.region.localeCompare(b.region) || a.configRuleName.localeCompare(b.configRuleName));
  }
}

/** NON_COMPLIANT when any resource is, COMPLIANT when any is and none fails, else INSUFFICIENT_DATA. */
function ruleComplianceType(results: readonly StoredEvaluation[]): ComplianceType {
  if (results.some((r) => r.complianceType === 'NON_COMPLIANT')) return 'NON_COMPLIANT';
  if (results.some((r) => r.complianceType === 'COMPLIANT')) return 'COMPLIANT';
  return 'INSUFFICIENT_DATA';
}

function pageLimit(raw: unknown, max: number, fallback: number): number {
  if (raw === undefined || raw === 0) return fallback;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw > max) {
    throw validation(`Value '${String(raw)}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to ${max}`);
  }
  return raw;
}

function validation(detail: string): AwsError {
  return new AwsError('ValidationException', `1 validation error detected: ${detail}`);
}
