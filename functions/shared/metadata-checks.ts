import type { RuleParameters } from './parameters.ts';

/**
 * The IMDS checks every kind of resource shares (an instance, a launch template, an Auto Scaling
 * group's launch, the account defaults): one definition of "tokens required", "hop limit in
 * range" and "endpoint enabled", so the rules can never disagree about what compliant means.
 */
export type MetadataCheckName = 'httpTokens' | 'hopLimit' | 'httpEndpoint';
export type CheckName = MetadataCheckName | 'instanceProfile';

/** How annotations name each check. */
export const CHECK_LABELS: Readonly<Record<CheckName, string>> = {
  httpTokens: 'HttpTokens',
  hopLimit: 'HopLimit',
  httpEndpoint: 'HttpEndpoint',
  instanceProfile: 'InstanceProfile',
};

export interface CheckResult {
  readonly check: CheckName;
  readonly passed: boolean;
  /** What the resource has, as text (`optional`, `1`, `absent`). */
  readonly actual: string;
  /** What the rule wants, as text (`required`, `2..64`, `attached`). */
  readonly expected: string;
}

export interface MetadataValues {
  readonly httpTokens: string | undefined;
  readonly httpPutResponseHopLimit: number | undefined;
  readonly httpEndpoint: string | undefined;
}

type CheckParameters = Pick<RuleParameters, 'minHopLimit' | 'maxHopLimit' | 'requireHttpEndpoint'>;

/** Tokens, hop range and (when required) the endpoint; a missing value fails its check. */
export function checkMetadata(values: MetadataValues, params: CheckParameters): CheckResult[] {
  const { httpTokens, httpPutResponseHopLimit: hop, httpEndpoint } = values;
  const checks: CheckResult[] = [
    { check: 'httpTokens', passed: httpTokens === 'required', actual: httpTokens ?? 'absent', expected: 'required' },
    {
      check: 'hopLimit',
      passed: hopLimitInRange(hop, params),
      actual: hop === undefined ? 'absent' : String(hop),
      expected: hopRange(params),
    },
  ];
  if (params.requireHttpEndpoint) {
    checks.push({ check: 'httpEndpoint', passed: httpEndpoint === 'enabled', actual: httpEndpoint ?? 'absent', expected: 'enabled' });
  }
  return checks;
}

export function hopLimitInRange(hop: number | undefined, params: Pick<RuleParameters, 'minHopLimit' | 'maxHopLimit'>): boolean {
  return hop !== undefined && hop >= params.minHopLimit && (params.maxHopLimit === undefined || hop <= params.maxHopLimit);
}

export function hopRange(params: Pick<RuleParameters, 'minHopLimit' | 'maxHopLimit'>): string {
  if (params.maxHopLimit === undefined) return `>=${params.minHopLimit}`;
  if (params.maxHopLimit === params.minHopLimit) return String(params.minHopLimit);
  return `${params.minHopLimit}..${params.maxHopLimit}`;
}

/**
 * The hop limit a fix sets: raised to the minimum or lowered to the maximum, otherwise kept
 * (never lowered without reason: a deliberate 3 stays 3).
 */
export function targetHopLimit(current: number | undefined, params: Pick<RuleParameters, 'minHopLimit' | 'maxHopLimit'>): number {
  let hopLimit = current ?? params.minHopLimit;
  if (hopLimit < params.minHopLimit) hopLimit = params.minHopLimit;
  if (params.maxHopLimit !== undefined && hopLimit > params.maxHopLimit) hopLimit = params.maxHopLimit;
  return hopLimit;
}
