import { fit } from '../annotation.ts';
import { CHECK_LABELS, checkMetadata, targetHopLimit } from '../metadata-checks.ts';
import type { RuleParameters } from '../parameters.ts';
import type { AccountDefaults } from './launch-metadata.ts';
import { ACCOUNT, annotateFailure, type SourceJudgement } from './source-judgement.ts';

const DECLARATIVE_POLICY = 'declarative-policy';

export function managedByDeclarativePolicy(defaults: AccountDefaults): boolean {
  return defaults.managedBy === DECLARATIVE_POLICY;
}

/**
 * The account's IMDS defaults for the region, judged once per sweep: every launch that leaves an
 * option out gets them. COMPLIANT when they require tokens and set a hop limit within
 * [MinHopLimit, MaxHopLimit]; "no preference" fails (the AMI or EC2's hop limit 1 would decide).
 * An unset endpoint passes: EC2's default is enabled.
 */
export function judgeAccountDefaults(accountId: string, defaults: AccountDefaults, params: RuleParameters): SourceJudgement {
  const checks = checkMetadata(
    {
      httpTokens: defaults.httpTokens,
      httpPutResponseHopLimit: defaults.httpPutResponseHopLimit,
      httpEndpoint: defaults.httpEndpoint ?? 'enabled',
    },
    params,
  ).map((check) => (check.actual === 'absent' ? { ...check, actual: 'no preference' } : check));
  const policy = managedByDeclarativePolicy(defaults);
  const owner = `account ${accountId} IMDS defaults${policy ? ' (managed by a declarative policy)' : ''}`;
  const base = { resourceType: ACCOUNT, resourceId: accountId };

  if (checks.every((c) => c.passed)) {
    const summary = checks.map((c) => `${CHECK_LABELS[c.check]} ${c.actual}`).join(', ');
    return { ...base, compliance: 'COMPLIANT', annotation: fit(`${owner}: compliant: ${summary}`) };
  }
  const failing = checks.filter((c) => !c.passed);
  return {
    ...base,
    compliance: 'NON_COMPLIANT',
    annotation: annotateFailure(
      owner,
      failing.map((c) => `${CHECK_LABELS[c.check]} ${c.actual} (want ${c.expected})`),
      failing.map((c) => CHECK_LABELS[c.check]),
      [policy ? "Fix: change the organization's EC2 declarative policy (instance_metadata_defaults); the account cannot" : `Fix: ${accountFixCommand(defaults, params)}`],
    ),
  };
}

/** What a repair of the defaults sends: tokens required, the hop limit brought into range. */
export function accountDefaultsTarget(defaults: AccountDefaults, params: RuleParameters) {
  // "No preference" becomes the minimum: the least permissive value the rule accepts.
  const current = defaults.httpPutResponseHopLimit;
  return {
    HttpTokens: 'required' as const,
    HttpPutResponseHopLimit: current === undefined ? params.minHopLimit : targetHopLimit(current, params),
    ...(params.requireHttpEndpoint && defaults.httpEndpoint === 'disabled' ? { HttpEndpoint: 'enabled' as const } : {}),
  };
}

export function accountFixCommand(defaults: AccountDefaults, params: RuleParameters): string {
  const target = accountDefaultsTarget(defaults, params);
  const endpoint = target.HttpEndpoint ? ` --http-endpoint ${target.HttpEndpoint}` : '';
  return `aws ec2 modify-instance-metadata-defaults --http-tokens required --http-put-response-hop-limit ${target.HttpPutResponseHopLimit}${endpoint}`;
}
