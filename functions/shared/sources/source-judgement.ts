import { fit, fits } from '../annotation.ts';
import { describeExemption, readExemption, type Exemption } from '../exemption.ts';
import type { RuleParameters } from '../parameters.ts';
import { quoteValue } from '../sanitize.ts';
import type { Verdict } from '../config-rule/rule.ts';

export const AUTO_SCALING_GROUP = 'AWS::AutoScaling::AutoScalingGroup';
export const LAUNCH_TEMPLATE = 'AWS::EC2::LaunchTemplate';
export const ACCOUNT = 'AWS::::Account';

/** What every source judgement ends in: one AWS Config result. */
export type SourceJudgement = Verdict;

/**
 * The annotation of a failing source: who owns it, what fails, and the fix. The fix is the point
 * of the text, so when everything does not fit, the failures shrink to values first, then the
 * fix to its short form (fixes are given longest first), and only then is the text cut.
 */
export function annotateFailure(owner: string, failures: readonly string[], shortFailures: readonly string[], fixes: readonly string[]): string {
  const candidates: string[] = [];
  for (const fix of fixes) {
    candidates.push(`${owner}: ${failures.join('; ')}. ${fix}`, `${owner}: ${shortFailures.join(', ')}. ${fix}`);
  }
  // Past every fix, what fails (and any exemption) still comes before a cut.
  candidates.push(`${owner}: ${shortFailures.join(', ')}`);
  return candidates.find(fits) ?? fit(candidates.at(-1) ?? owner);
}

/** `cluster "prod": `: the cluster comes from a tag, so it is quoted (anyone who can tag writes it). */
export function clusterPrefix(cluster: string | undefined): string {
  return cluster === undefined ? '' : `cluster ${quoteValue(cluster, 100)}: `;
}

/** A name from a tag, quoted for prose. */
export function quoted(name: string | undefined): string {
  return name === undefined ? '(unknown)' : quoteValue(name, 63);
}

/** A name from a tag, put in a command only when it is a valid EKS/Kubernetes name; a placeholder otherwise. */
export function commandName(name: string | undefined, placeholder: string): string {
  return name !== undefined && /^[0-9A-Za-z][A-Za-z0-9._-]{0,99}$/.test(name) ? name : placeholder;
}

/**
 * The exemption tag on a source, as on an instance: it never changes compliance; while active it
 * stops the repair, and the annotation says so.
 */
export function sourceExemption(tags: Readonly<Record<string, string>>, params: Pick<RuleParameters, 'exemptionTagKey' | 'exemptionMaxDays'>, evaluatedAt: Date): Exemption {
  return readExemption(tags[params.exemptionTagKey], evaluatedAt, params.exemptionMaxDays);
}

export function exemptionSuffix(exemption: Exemption, failing: boolean): string {
  const text = describeExemption(exemption);
  if (!text) return '';
  return exemption.status === 'active' && failing ? `; ${text}: not remediated` : `; ${text}`;
}

/** The list with `suffix` added to its last entry. */
export function withLast(items: readonly string[], suffix: string): string[] {
  return items.map((item, i) => (i === items.length - 1 ? `${item}${suffix}` : item));
}
