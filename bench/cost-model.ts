/**
 * The monthly cost model behind docs/cost.md: AWS Config evaluations (tiered), Lambda GB-seconds
 * and API calls for a fleet, swept at each EvaluationFrequency, before and after "write only what
 * changed", next to AWS's managed rules for the same checks. Pure: every input is named below.
 */

/** AWS Config rule evaluations, per account and region per month (shared/AWS-FACTS.md). */
export const CONFIG_EVALUATION_TIERS: readonly { readonly upTo: number; readonly usd: number }[] = [
  { upTo: 100_000, usd: 0.001 },
  { upTo: 500_000, usd: 0.0008 },
  { upTo: Number.POSITIVE_INFINITY, usd: 0.0005 },
];

/** A configuration item under continuous recording (shared/AWS-FACTS.md): paid for recording, whatever the rules. */
export const CONFIGURATION_ITEM_USD = 0.003;

/**
 * AWS Lambda, arm64 (template.yaml's Architectures), us-east-1, first pricing tier: from the AWS
 * Lambda pricing page, not from AWS-FACTS (which names no Lambda price). The free tier is ignored.
 */
export const LAMBDA_GB_SECOND_USD = 0.0000133334;
export const LAMBDA_REQUEST_USD = 0.2 / 1_000_000;

export const FREQUENCIES = {
  One_Hour: 24 * 30,
  Three_Hours: 8 * 30,
  Six_Hours: 4 * 30,
  Twelve_Hours: 2 * 30,
  TwentyFour_Hours: 30,
} as const;
export type Frequency = keyof typeof FREQUENCIES;

export interface FleetAssumptions {
  /** Share of the nodes replaced each day (a new node launched, an old one terminated). */
  readonly churnPerDay: number;
  /** Share of the nodes whose result changes each day without being replaced (drift, remediation). */
  readonly changesPerDay: number;
  /** Configuration items a replaced node produces in its life (discovered, interfaces attached, deleted...). */
  readonly itemsPerReplacedNode: number;
  /** Configuration items a long-lived node produces a day (the VPC CNI attaching or releasing interfaces). */
  readonly itemsPerNodePerDay: number;
}

export const ASSUMPTIONS: FleetAssumptions = {
  churnPerDay: 0.05,
  changesPerDay: 0.01,
  itemsPerReplacedNode: 4,
  itemsPerNodePerDay: 0.2,
};

/** What the benchmark measured (docs/benchmarks.md), scaled per node. */
export interface MeasuredCosts {
  readonly memoryMb: number;
  /** A sweep that writes every node's evaluation (the first sweep), Lambda estimate at memoryMb, per 1,000 nodes. */
  readonly writingSweepMsPer1000: number;
  /** A sweep of an unchanged fleet (writes nothing), Lambda estimate at memoryMb, per 1,000 nodes. */
  readonly readingSweepMsPer1000: number;
  /** One change-triggered invocation, wall (median). */
  readonly changeInvocationMs: number;
}

const DAYS = 30;

/** Tiered price of `evaluations` in one account and region for a month. */
export function configEvaluationsUsd(evaluations: number): number {
  let usd = 0;
  let from = 0;
  for (const tier of CONFIG_EVALUATION_TIERS) {
    if (evaluations <= from) break;
    usd += (Math.min(evaluations, tier.upTo) - from) * tier.usd;
    from = tier.upTo;
  }
  return usd;
}

/** Configuration item changes of the nodes a month: each one is a change-triggered evaluation, for this rule and for each managed rule. */
export function changeTriggeredEvaluations(nodes: number, a: FleetAssumptions = ASSUMPTIONS): number {
  return Math.round(nodes * DAYS * (a.churnPerDay * a.itemsPerReplacedNode + a.itemsPerNodePerDay));
}

/** What the sweeps write a month after the change: every new, retired or changed result, once. An upper bound: with continuous recording the change trigger writes most of these first. */
export function evaluationsWrittenBySweeps(nodes: number, a: FleetAssumptions = ASSUMPTIONS): number {
  return Math.round(nodes * DAYS * (2 * a.churnPerDay + a.changesPerDay));
}

/**
 * Change-triggered evaluations whose result is the one Config already holds (a configuration item
 * change that does not touch what the rule judges): what skipping them would save at most.
 */
export function unchangedChangeEvaluations(nodes: number, a: FleetAssumptions = ASSUMPTIONS): number {
  return Math.max(0, changeTriggeredEvaluations(nodes, a) - evaluationsWrittenBySweeps(nodes, a));
}

export interface MonthlyRow {
  readonly nodes: number;
  readonly frequency: Frequency;
  readonly sweeps: number;
  readonly changeTriggered: number;
  readonly sweepEvaluationsBefore: number;
  readonly sweepEvaluationsAfter: number;
  readonly configUsdBefore: number;
  readonly configUsdAfter: number;
  /** ec2-imdsv2-check and EC2_TOKEN_HOP_LIMIT_CHECK: each evaluates every configuration item change. */
  readonly managedEvaluations: number;
  readonly managedUsd: number;
  readonly lambdaGbSecondsBefore: number;
  readonly lambdaGbSecondsAfter: number;
  readonly lambdaUsdBefore: number;
  readonly lambdaUsdAfter: number;
  readonly apiCallsBefore: number;
  readonly apiCallsAfter: number;
}

/**
 * Calls one sweep makes. Before: DescribeInstances pages of 1,000, the listing of COMPLIANT and
 * NON_COMPLIANT results (100 a page, one partial page each) and a put per 100 nodes. After: the
 * same pages, the NOT_APPLICABLE listing too, the recorder's two reads, and a put per 100 written.
 */
export function sweepCalls(nodes: number, written: number, after: boolean): number {
  const describe = Math.max(1, Math.ceil(nodes / 1000));
  const listing = Math.ceil(nodes / 100) + (after ? 3 : 2);
  return describe + listing + Math.ceil(written / 100) + (after ? 2 : 0);
}

export function monthlyRow(nodes: number, frequency: Frequency, measured: MeasuredCosts, a: FleetAssumptions = ASSUMPTIONS): MonthlyRow {
  const sweeps = FREQUENCIES[frequency];
  const changeTriggered = changeTriggeredEvaluations(nodes, a);
  const sweepEvaluationsBefore = nodes * sweeps;
  const sweepEvaluationsAfter = evaluationsWrittenBySweeps(nodes, a);
  const gb = measured.memoryMb / 1024;
  const changeGbSeconds = changeTriggered * (measured.changeInvocationMs / 1000) * gb;
  const sweepGbSeconds = (msPer1000: number) => sweeps * (nodes / 1000) * (msPer1000 / 1000) * gb;
  const lambdaGbSecondsBefore = sweepGbSeconds(measured.writingSweepMsPer1000) + changeGbSeconds;
  // After, a sweep writes a few of the fleet's results: priced as a reading sweep.
  const lambdaGbSecondsAfter = sweepGbSeconds(measured.readingSweepMsPer1000) + changeGbSeconds;
  const requests = (sweeps + changeTriggered) * LAMBDA_REQUEST_USD;
  const perSweepAfter = sweepEvaluationsAfter / sweeps;
  return {
    nodes,
    frequency,
    sweeps,
    changeTriggered,
    sweepEvaluationsBefore,
    sweepEvaluationsAfter,
    configUsdBefore: configEvaluationsUsd(changeTriggered + sweepEvaluationsBefore),
    configUsdAfter: configEvaluationsUsd(changeTriggered + sweepEvaluationsAfter),
    managedEvaluations: 2 * changeTriggered,
    managedUsd: configEvaluationsUsd(2 * changeTriggered),
    lambdaGbSecondsBefore,
    lambdaGbSecondsAfter,
    lambdaUsdBefore: lambdaGbSecondsBefore * LAMBDA_GB_SECOND_USD + requests,
    lambdaUsdAfter: lambdaGbSecondsAfter * LAMBDA_GB_SECOND_USD + requests,
    // Change-triggered invocations make one PutEvaluations each, before and after.
    apiCallsBefore: sweeps * sweepCalls(nodes, nodes, false) + changeTriggered,
    apiCallsAfter: sweeps * sweepCalls(nodes, perSweepAfter, true) + changeTriggered,
  };
}
