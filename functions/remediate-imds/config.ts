import { z } from 'zod';
import { InvalidConfigurationError, InvalidParametersError } from '../shared/errors.ts';
import { parseRuleParameters, type RuleParameters } from '../shared/parameters.ts';
import { LEDGER_TAG_KEY } from './ledger.ts';

export const REMEDIATION_MODES = ['notify', 'enforce'] as const;
export type RemediationMode = (typeof REMEDIATION_MODES)[number];

export const LOOKBACK_HOURS_RANGE = { min: 1, max: 360 } as const;

export interface RemediationConfig {
  readonly configRuleName: string;
  /** Unset when reports only travel over EventBridge (a member stack forwarding to a central bus). */
  readonly topicArn: string | undefined;
  /** The topic's own region (from its ARN): the SNS client is made there, so a topic in another region works. */
  readonly topicRegion: string;
  /** FIFO topics need a message group and take a deduplication id (5-minute window). */
  readonly fifoTopic: boolean;
  readonly mode: RemediationMode;
  readonly imdsv1Guard: boolean;
  readonly imdsv1LookbackHours: number;
  readonly ruleParameters: RuleParameters;
  readonly region: string;
  /** The queue this function consumes: anyone may send it a delayed re-look (`DelaySeconds`). */
  readonly remediationQueueUrl: string;
  /** Where a message that can never succeed goes at once, with its reason. */
  readonly deadLetterQueueUrl: string;
}

// Unset and empty mean the same: CloudFormation passes '' for an optional parameter left blank.
const optional = (schema: z.ZodType<string>) =>
  z.preprocess((value) => (typeof value === 'string' && value.trim() === '' ? undefined : value), schema.optional());

const trimmed = z.string().trim();

// `https://sqs.<region>.amazonaws.com[.cn]/<account>/<name>` from CloudFormation; an emulator's own origin in tests.
const queueUrl = trimmed.regex(
  /^https?:\/\/[^/\s]+\/\d{12}\/[A-Za-z0-9_-]{1,80}(\.fifo)?$/,
  'must be an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)',
);

const EnvSchema = z.object({
  CONFIG_RULE_NAME: trimmed.regex(/^\S.{0,127}$/, 'must be the Config rule name (1-128 characters)'),
  TOPIC_ARN: optional(
    trimmed.regex(
      /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/,
      'must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>), or unset to report over EventBridge only',
    ),
  ),
  REMEDIATION_MODE: optional(
    trimmed.refine((value) => (REMEDIATION_MODES as readonly string[]).includes(value), {
      error: (issue) => `must be one of ${REMEDIATION_MODES.join(', ')}, got ${JSON.stringify(issue.input)}`,
    }),
  ),
  IMDSV1_GUARD: optional(
    trimmed.refine((value) => value === 'true' || value === 'false', {
      error: (issue) => `must be "true" or "false", got ${JSON.stringify(issue.input)}`,
    }),
  ),
  IMDSV1_LOOKBACK_HOURS: optional(
    trimmed.refine(
      (value) => /^\d+$/.test(value) && Number(value) >= LOOKBACK_HOURS_RANGE.min && Number(value) <= LOOKBACK_HOURS_RANGE.max,
      {
        error: (issue) =>
          `must be an integer from ${LOOKBACK_HOURS_RANGE.min} to ${LOOKBACK_HOURS_RANGE.max}, got ${JSON.stringify(issue.input)}`,
      },
    ),
  ),
  RULE_PARAMETERS: optional(z.string()),
  REMEDIATION_QUEUE_URL: queueUrl,
  DEAD_LETTER_QUEUE_URL: queueUrl,
  AWS_REGION: trimmed.regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region such as eu-west-1 (Lambda sets it)'),
});

/**
 * The function's whole configuration, read from its environment once. Every problem is
 * collected and thrown together, each naming its variable and the values it accepts.
 */
export function loadRemediationConfig(env: Readonly<Record<string, string | undefined>>): RemediationConfig {
  const parsed = EnvSchema.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? '(environment)');
        return issue.code === 'invalid_type' && env[name] === undefined ? `${name} is required` : `${name} ${issue.message}`;
      });

  let ruleParameters: RuleParameters | undefined;
  try {
    ruleParameters = parseRuleParameters(env.RULE_PARAMETERS?.trim() || undefined);
  } catch (error) {
    if (!(error instanceof InvalidParametersError)) throw error;
    problems.push(...error.problems.map((problem) => `RULE_PARAMETERS: ${problem}`));
  }
  if (ruleParameters?.exemptionTagKey === LEDGER_TAG_KEY) {
    problems.push(`RULE_PARAMETERS: ExemptionTagKey must not be "${LEDGER_TAG_KEY}", the tag this function writes on every node it changes (each would become exempt)`);
  }

  if (!parsed.success || ruleParameters === undefined || problems.length > 0) {
    throw new InvalidConfigurationError(problems);
  }
  const data = parsed.data;
  return {
    configRuleName: data.CONFIG_RULE_NAME,
    topicArn: data.TOPIC_ARN,
    topicRegion: data.TOPIC_ARN === undefined ? data.AWS_REGION : regionOfArn(data.TOPIC_ARN),
    fifoTopic: data.TOPIC_ARN?.endsWith('.fifo') ?? false,
    mode: (data.REMEDIATION_MODE ?? 'notify') as RemediationMode,
    imdsv1Guard: (data.IMDSV1_GUARD ?? 'true') === 'true',
    imdsv1LookbackHours: Number(data.IMDSV1_LOOKBACK_HOURS ?? '24'),
    ruleParameters,
    region: data.AWS_REGION,
    remediationQueueUrl: data.REMEDIATION_QUEUE_URL,
    deadLetterQueueUrl: data.DEAD_LETTER_QUEUE_URL,
  };
}

/** `arn:<partition>:sns:<region>:<account>:<name>` → the region (the schema has checked the shape). */
function regionOfArn(arn: string): string {
  return arn.split(':')[3] ?? '';
}

/** `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]` → the account. */
export function accountIdFromFunctionArn(arn: string): string {
  const account = arn.split(':')[4];
  if (account === undefined || !/^\d{12}$/.test(account)) {
    throw new InvalidConfigurationError([`context.invokedFunctionArn "${arn}" carries no 12-digit account id`]);
  }
  return account;
}
