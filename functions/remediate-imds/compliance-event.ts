import { z } from 'zod';
import { EC2_INSTANCE } from '../shared/ec2.ts';
import { InvalidEventError } from '../shared/errors.ts';
import { accountId, awsRegion as region, instanceId, isoTimestamp, zodProblems } from '../shared/validation.ts';

export const EVENT_SOURCE = 'aws.config';
export const EVENT_DETAIL_TYPE = 'Config Rules Compliance Change';

const EvaluationResultSchema = z.looseObject({
  evaluationResultIdentifier: z
    .looseObject({
      evaluationResultQualifier: z
        .looseObject({ configRuleName: z.string(), resourceType: z.string(), resourceId: z.string() })
        .optional(),
      orderingTimestamp: isoTimestamp.optional(),
    })
    .optional(),
  complianceType: z.string(),
  annotation: z.string().nullish(),
  resultRecordedTime: isoTimestamp.optional(),
});

// EventBridge and Config add fields over time: unknown ones pass, the ones we act on are checked.
const ComplianceChangeEventSchema = z.looseObject({
  id: z.string().min(1),
  source: z.literal(EVENT_SOURCE),
  'detail-type': z.literal(EVENT_DETAIL_TYPE),
  account: accountId,
  region,
  time: isoTimestamp,
  detail: z.looseObject({
    configRuleName: z.string().min(1),
    resourceType: z.literal(EC2_INSTANCE),
    resourceId: instanceId,
    awsAccountId: accountId,
    awsRegion: region,
    newEvaluationResult: EvaluationResultSchema.extend({
      complianceType: z.literal('NON_COMPLIANT', { error: 'must be NON_COMPLIANT (only non-compliant results are remediated)' }),
    }),
    oldEvaluationResult: EvaluationResultSchema.nullish(),
  }),
});

/** What remediation takes from the event: who it is for and which instance. Nothing else is trusted. */
export interface ComplianceChange {
  /** EventBridge event id: the same on SQS redeliveries of one event and on duplicate deliveries. */
  readonly eventId: string;
  readonly time: Date;
  readonly configRuleName: string;
  readonly accountId: string;
  readonly region: string;
  readonly instanceId: string;
}

/** Validates a "Config Rules Compliance Change" event; every problem names its field. */
export function parseComplianceChange(event: unknown): ComplianceChange {
  const result = ComplianceChangeEventSchema.safeParse(event);
  if (!result.success) {
    throw new InvalidEventError(zodProblems(result.error));
  }
  const { data } = result;
  const { detail } = data;
  const problems: string[] = [];
  if (detail.awsAccountId !== data.account) {
    problems.push(`detail.awsAccountId ${detail.awsAccountId} differs from account ${data.account}`);
  }
  if (detail.awsRegion !== data.region) problems.push(`detail.awsRegion ${detail.awsRegion} differs from region ${data.region}`);
  const qualifier = detail.newEvaluationResult.evaluationResultIdentifier?.evaluationResultQualifier;
  if (qualifier !== undefined) {
    if (qualifier.resourceId !== detail.resourceId) {
      problems.push(`detail.newEvaluationResult qualifier names resource ${qualifier.resourceId}, not ${detail.resourceId}`);
    }
    if (qualifier.configRuleName !== detail.configRuleName) {
      problems.push(`detail.newEvaluationResult qualifier names rule ${qualifier.configRuleName}, not ${detail.configRuleName}`);
    }
  }
  if (problems.length > 0) throw new InvalidEventError(problems);
  return {
    eventId: data.id,
    time: new Date(data.time),
    configRuleName: detail.configRuleName,
    accountId: detail.awsAccountId,
    region: detail.awsRegion,
    instanceId: detail.resourceId,
  };
}
