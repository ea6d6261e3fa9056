import { fit, MAX_ANNOTATION_LENGTH } from '../annotation.ts';
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
  return candidates.find((text) => text.length <= MAX_ANNOTATION_LENGTH) ?? fit(candidates.at(-1) ?? owner);
}
