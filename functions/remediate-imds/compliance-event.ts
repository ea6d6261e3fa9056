import { z } from 'zod';
import { EC2_INSTANCE } from '../shared/ec2.ts';
import { InvalidEventError } from '../shared/errors.ts';
import { accountId, isoTimestamp, zodProblems } from '../shared/validation.ts';

export const EVENT_SOURCE = 'aws.config';
export const EVENT_DETAIL_TYPE = 'Config Rules Compliance Change';

const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region');

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
    resourceId: z.string().regex(/^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, 'must be an EC2 instance id (i-0123456789abcdef0)'),
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
  readonly annotation: string | undefined;
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
    annotation: detail.newEvaluationResult.annotation ?? undefined,
  };
}

export interface OwnIdentity {
  readonly configRuleName: string;
  readonly accountId: string;
  readonly region: string;
}

/**
 * The event must be about this function's rule, account and region: an event routed here by
 * mistake (another rule, a cross-account bus) is refused before any AWS call.
 */
export function assertEventIsOurs(change: ComplianceChange, own: OwnIdentity): void {
  const problems: string[] = [];
  if (change.configRuleName !== own.configRuleName) {
    problems.push(`detail.configRuleName "${change.configRuleName}" is not this function's rule "${own.configRuleName}"`);
  }
  if (change.accountId !== own.accountId) {
    problems.push(`account ${change.accountId} is not this function's account ${own.accountId}`);
  }
  if (change.region !== own.region) problems.push(`region ${change.region} is not this function's region ${own.region}`);
  if (problems.length > 0) throw new InvalidEventError(problems);
}
