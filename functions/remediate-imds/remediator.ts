import { createHash } from 'node:crypto';
import { GetMetricStatisticsCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  DescribeInstancesCommand,
  ModifyInstanceMetadataOptionsCommand,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import { PublishCommand, type MessageAttributeValue, type SNSClient } from '@aws-sdk/client-sns';
import type { DebugLogger } from '../shared/clients.ts';
import { assertEventIsOurs, parseComplianceChange, type ComplianceChange } from './compliance-event.ts';
import type { RemediationConfig } from './config.ts';
import {
  renderNotification,
  type Imdsv1GuardReport,
  type Outcome,
  type RemediationReport,
  type Verification,
} from './notification.ts';
import {
  assessInstance,
  detectDrift,
  planChange,
  type Assessment,
  type ChangePlan,
  type Imdsv1Finding,
  type MetadataValues,
} from './plan.ts';
import type { UndeliveredNotifications } from './undelivered.ts';

export interface VerificationTiming {
  /** First wait after the change, doubled after every read up to maxDelayMs. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Upper bound on the whole wait, whatever time the invocation has left. */
  readonly maxWaitMs: number;
  /** Time kept back from the function timeout for the notification. */
  readonly safetyMarginMs: number;
}

export const DEFAULT_VERIFICATION_TIMING: VerificationTiming = {
  initialDelayMs: 250,
  maxDelayMs: 4_000,
  maxWaitMs: 60_000,
  safetyMarginMs: 10_000,
};

export interface RemediatorDeps {
  readonly ec2: Pick<EC2Client, 'send'>;
  readonly cloudwatch: Pick<CloudWatchClient, 'send'>;
  readonly sns: Pick<SNSClient, 'send'>;
  readonly config: RemediationConfig;
  /** The function's own account (from its ARN): events for any other account are refused. */
  readonly accountId: string;
  readonly logger: DebugLogger;
  readonly undelivered: UndeliveredNotifications;
  /** `context.getRemainingTimeInMillis`. */
  readonly remainingTimeMs: () => number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly verification?: Partial<VerificationTiming>;
}

export interface RemediationResult {
  readonly outcome: Outcome;
  readonly reason: string;
  readonly eventId: string;
  readonly instanceId: string;
  readonly cluster: string | undefined;
  /** A real (not DryRun) ModifyInstanceMetadataOptions call succeeded in this invocation. */
  readonly modified: boolean;
  readonly published: boolean;
  /** This invocation only re-sent a notification an earlier attempt failed to publish. */
  readonly redelivered: boolean;
  readonly verified: boolean | undefined;
}

/** Publish failed after SNS's own retries: thrown so Lambda retries the event. */
export class NotificationDeliveryError extends Error {
  override readonly name = 'NotificationDeliveryError';
  readonly outcome: Outcome;

  constructor(report: RemediationReport, cause: unknown) {
    super(`SNS Publish failed for the ${report.outcome} notification of ${report.instanceId} (event ${report.eventId}): ${(cause as Error)?.message ?? cause}`, {
      cause,
    });
    this.outcome = report.outcome;
  }
}

/**
 * Errors that the same call would meet again on a retry: reported as `failed`, not thrown.
 * Everything else that survives the SDK's retries is thrown, for Lambda's async retries.
 */
const PERMANENT_ERRORS = new Set([
  'UnauthorizedOperation',
  'InvalidInstanceID.NotFound',
  'InvalidInstanceID.Malformed',
  'IncorrectInstanceState',
  'InvalidParameterValue',
  'InvalidParameterCombination',
  'AccessDenied',
  'AccessDeniedException',
]);

type Failure = { readonly operation: string; readonly error: Error };

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Handles one "Config Rules Compliance Change" event: validate and check it is ours, re-read
 * the instance, decide, look for IMDSv1 use, change (enforce) or DryRun (notify), verify, report.
 *
 * Idempotency, without a database (the reasoning is in docs/remediation.md):
 * - The decision comes from the instance as EC2 describes it now, never from the event. Once a
 *   change is made the instance judges compliant (pending values are judged as they will be),
 *   so a retry or duplicate of the event skips as "already compliant" and never modifies again.
 * - A retry and a duplicate carry the same event and meet the same compliant instance: with
 *   only these four calls nothing tells "my notification was lost" from "it was delivered".
 *   The one difference is in memory: a failed Publish is kept under the event id, and a retry
 *   that lands in the same execution environment re-sends it without touching EC2. A retry
 *   in another environment publishes nothing; the lost notification stays in the ERROR log.
 */
export async function remediateEvent(event: unknown, deps: RemediatorDeps): Promise<RemediationResult> {
  const change = parseComplianceChange(event);
  assertEventIsOurs(change, { configRuleName: deps.config.configRuleName, accountId: deps.accountId, region: deps.config.region });

  const undelivered = deps.undelivered.get(change.eventId);
  if (undelivered !== undefined) {
    await publish(deps, change.eventId, undelivered.report, undelivered.rendered);
    deps.undelivered.forget(change.eventId);
    return resultOf(undelivered.report, { modified: false, published: true, redelivered: true });
  }

  const { report, modified } = await remediate(change, deps);
  if (report === undefined) {
    return {
      outcome: 'skipped',
      reason: 'already-compliant',
      eventId: change.eventId,
      instanceId: change.instanceId,
      cluster: undefined,
      modified: false,
      published: false,
      redelivered: false,
      verified: undefined,
    };
  }
  await publish(deps, change.eventId, report, renderNotification(report));
  return resultOf(report, { modified, published: true, redelivered: false });
}

/** The report to publish, or undefined for a duplicate that publishes nothing. */
async function remediate(
  change: ComplianceChange,
  deps: RemediatorDeps,
): Promise<{ report: RemediationReport | undefined; modified: boolean }> {
  const { config } = deps;
  const base = baseReport(change, deps);

  let instance: Instance | undefined;
  try {
    instance = await describeInstance(deps.ec2, change.instanceId);
  } catch (error) {
    if (isNamed(error, 'InvalidInstanceID.NotFound')) instance = undefined;
    else return { report: failedReport(base, { operation: 'DescribeInstances', error: permanentOrThrow(error) }), modified: false };
  }

  const assessment = assessInstance(instance, change.instanceId, config.ruleParameters);
  if (assessment.kind === 'skip') {
    deps.logger.debug('skipping', { instanceId: change.instanceId, reason: assessment.reason });
    if (!assessment.publish) return { report: undefined, modified: false };
    return { report: skippedReport(base, assessment), modified: false };
  }
  // assessInstance only acts on an instance it was given.
  const current = instance as Instance;
  const node = assessment.judgement.node;
  const nodeReport = { ...base, cluster: node.cluster, nodeKind: node.kind, nodeGroup: node.group };
  const drift = detectDrift(assessment.facts.tags, node);

  let imdsv1: Imdsv1Finding | undefined;
  if (assessment.enforcesTokens && config.imdsv1Guard) {
    try {
      imdsv1 = await readImdsv1Calls(deps, change.instanceId, config.imdsv1LookbackHours);
    } catch (error) {
      const failure = { operation: 'GetMetricStatistics', error: permanentOrThrow(error) };
      return { report: failedReport({ ...nodeReport, drift }, failure), modified: false };
    }
  }
  const plan = planChange(current, assessment, imdsv1);
  const guard: Imdsv1GuardReport = {
    enabled: config.imdsv1Guard,
    lookbackHours: config.imdsv1LookbackHours,
    imdsv1Calls: imdsv1?.calls,
    tokensHeldBack: plan.tokensHeldBack,
  };
  const planned = {
    ...nodeReport,
    before: plan.before,
    after: plan.after,
    changes: plan.changes,
    imdsv1Guard: guard,
    actionsRequired: plan.actionsRequired,
    drift,
  };

  if (plan.changes.length === 0) {
    return {
      report: {
        ...planned,
        outcome: 'skipped',
        reason: 'manual-action-required',
        headline: 'nothing this function can change: action required',
      },
      modified: false,
    };
  }

  if (config.mode === 'notify') return { report: await dryRun(deps, plan, planned), modified: false };

  try {
    await deps.ec2.send(new ModifyInstanceMetadataOptionsCommand(plan.request));
  } catch (error) {
    return { report: failedReport(planned, { operation: 'ModifyInstanceMetadataOptions', error: permanentOrThrow(error) }), modified: false };
  }
  // From here on nothing may throw before the notification: a retry would find the instance
  // compliant and skip, and the change would go unreported.
  const verification = await verify(deps, change.instanceId, plan.after);
  const partial = plan.actionsRequired.length > 0;
  const verifiedText = verification.status === 'verified' ? 'verified' : 'not verified yet';
  return {
    report: {
      ...planned,
      outcome: partial ? 'partially-remediated' : 'remediated',
      reason: partial ? 'applied-partially' : 'applied',
      headline: partial
        ? `changed ${fieldList(plan)} (${verifiedText}); action required for the rest`
        : `changed ${fieldList(plan)} (${verifiedText})`,
      verification,
    },
    modified: true,
  };
}

async function dryRun(
  deps: RemediatorDeps,
  plan: ChangePlan,
  planned: Omit<RemediationReport, 'outcome' | 'reason' | 'headline'>,
): Promise<RemediationReport> {
  try {
    await deps.ec2.send(new ModifyInstanceMetadataOptionsCommand({ ...plan.request, DryRun: true }));
    // EC2 answers a DryRun with an error either way; a success means the endpoint ignored DryRun.
    deps.logger.warn('DryRun call succeeded instead of answering DryRunOperation', { instanceId: plan.request.InstanceId });
  } catch (error) {
    if (!isNamed(error, 'DryRunOperation')) {
      return failedReport(planned, { operation: 'ModifyInstanceMetadataOptions (DryRun)', error: permanentOrThrow(error) });
    }
  }
  const rest = plan.actionsRequired.length > 0 ? '; action required for the rest' : '';
  return {
    ...planned,
    outcome: 'would-remediate',
    reason: 'dry-run-permitted',
    headline: `notify mode: would change ${fieldList(plan)} (DryRun: permitted)${rest}`,
  };
}

async function describeInstance(ec2: Pick<EC2Client, 'send'>, instanceId: string): Promise<Instance | undefined> {
  const response = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return (response.Reservations ?? []).flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
}

/** Sum of `AWS/EC2` `MetadataNoToken` (IMDSv1 calls) for the instance over the lookback. */
async function readImdsv1Calls(deps: RemediatorDeps, instanceId: string, lookbackHours: number): Promise<Imdsv1Finding> {
  const end = new Date((deps.now ?? Date.now)());
  const response = await deps.cloudwatch.send(
    new GetMetricStatisticsCommand({
      Namespace: 'AWS/EC2',
      MetricName: 'MetadataNoToken',
      Dimensions: [{ Name: 'InstanceId', Value: instanceId }],
      StartTime: new Date(end.getTime() - lookbackHours * 3_600_000),
      EndTime: end,
      // One period for the whole window (whole hours, so valid for data of any age).
      Period: lookbackHours * 3_600,
      Statistics: ['Sum'],
    }),
  );
  const calls = (response.Datapoints ?? []).reduce((sum, point) => sum + (point.Sum ?? 0), 0);
  return { lookbackHours, calls };
}

/** Polls until EC2 reports the options applied with the values sent, within the invocation's time. */
async function verify(deps: RemediatorDeps, instanceId: string, expected: MetadataValues): Promise<Verification> {
  const timing = { ...DEFAULT_VERIFICATION_TIMING, ...deps.verification };
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  const start = now();
  const budget = Math.min(timing.maxWaitMs, deps.remainingTimeMs() - timing.safetyMarginMs);
  const deadline = start + Math.max(0, budget);
  let delay = timing.initialDelayMs;
  let observed: Verification['observed'];
  let reads = 0;

  while (now() + delay <= deadline) {
    await sleep(delay);
    reads++;
    try {
      const options = (await describeInstance(deps.ec2, instanceId))?.MetadataOptions;
      observed = {
        state: options?.State,
        httpTokens: options?.HttpTokens,
        hopLimit: options?.HttpPutResponseHopLimit,
        httpEndpoint: options?.HttpEndpoint,
      };
      if (observed.state === 'applied' && matches(observed, expected)) {
        const waitedMs = now() - start;
        return { status: 'verified', detail: `State applied with the values sent after ${seconds(waitedMs)} s`, waitedMs, observed };
      }
    } catch (error) {
      // The change is made: a failed read costs the proof, not the notification.
      deps.logger.warn('verification read failed', { instanceId, error: (error as Error).name });
    }
    delay = Math.min(delay * 2, timing.maxDelayMs);
  }
  const waitedMs = now() - start;
  const last = observed === undefined ? 'no successful read' : `last read: State ${observed.state ?? 'absent'}${matches(observed, expected) ? '' : ', values differ'}`;
  return {
    status: 'not-verified',
    detail: `not applied within ${seconds(waitedMs)} s (${reads} read(s); ${last}); Config will re-evaluate when the change lands`,
    waitedMs,
    observed,
  };
}

function matches(observed: MetadataValues, expected: MetadataValues): boolean {
  return (
    (expected.httpTokens === undefined || observed.httpTokens === expected.httpTokens) &&
    observed.hopLimit === expected.hopLimit &&
    (expected.httpEndpoint === undefined || observed.httpEndpoint === expected.httpEndpoint)
  );
}

async function publish(
  deps: RemediatorDeps,
  eventId: string,
  report: RemediationReport,
  rendered: ReturnType<typeof renderNotification>,
): Promise<void> {
  const attributes: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(rendered.attributes)) attributes[name] = { DataType: 'String', StringValue: value };
  try {
    await deps.sns.send(
      new PublishCommand({
        TopicArn: deps.config.topicArn,
        Subject: rendered.subject,
        Message: rendered.message,
        MessageAttributes: attributes,
        // FIFO topics need a group and drop a repeated deduplication id within 5 minutes.
        ...(deps.config.fifoTopic
          ? { MessageGroupId: report.instanceId, MessageDeduplicationId: createHash('sha256').update(eventId).digest('hex') }
          : {}),
      }),
    );
  } catch (error) {
    deps.undelivered.remember(eventId, { report, rendered });
    deps.logger.error('notification not delivered: kept for a retry of this event in this execution environment', {
      eventId,
      instanceId: report.instanceId,
      outcome: report.outcome,
      error: (error as Error).name,
      notification: report,
    });
    throw new NotificationDeliveryError(report, error);
  }
}

function baseReport(change: ComplianceChange, deps: RemediatorDeps): Omit<RemediationReport, 'outcome' | 'reason' | 'headline'> {
  return {
    mode: deps.config.mode,
    eventId: change.eventId,
    configRuleName: change.configRuleName,
    accountId: change.accountId,
    region: change.region,
    instanceId: change.instanceId,
    cluster: undefined,
    nodeKind: undefined,
    nodeGroup: undefined,
    before: undefined,
    after: undefined,
    changes: [],
    verification: undefined,
    imdsv1Guard: undefined,
    actionsRequired: [],
    drift: undefined,
    error: undefined,
    generatedAt: new Date((deps.now ?? Date.now)()).toISOString(),
  };
}

function skippedReport(
  base: Omit<RemediationReport, 'outcome' | 'reason' | 'headline'>,
  assessment: Extract<Assessment, { kind: 'skip' }>,
): RemediationReport {
  const { node, facts } = assessment;
  const before = facts && {
    httpTokens: facts.metadata.httpTokens,
    hopLimit: facts.metadata.httpPutResponseHopLimit,
    httpEndpoint: facts.metadata.httpEndpoint,
  };
  return {
    ...base,
    outcome: 'skipped',
    reason: assessment.reason,
    headline: assessment.detail,
    cluster: node?.cluster,
    nodeKind: node?.kind,
    nodeGroup: node?.group,
    // Auto Mode is reported with its values (for the record); other skips are out of scope.
    ...(assessment.reason === 'auto-mode' && before ? { before, after: before } : {}),
  };
}

function failedReport(planned: Omit<RemediationReport, 'outcome' | 'reason' | 'headline'>, failure: Failure): RemediationReport {
  const { operation, error } = failure;
  const advice: Record<string, string> = {
    UnauthorizedOperation: `Grant the function's role permission for ${operation.replace(/ \(DryRun\)$/, '')} on this instance (check SCPs and permission boundaries).`,
    AccessDenied: `Grant the function's role permission for ${operation}.`,
    AccessDeniedException: `Grant the function's role permission for ${operation}.`,
    IncorrectInstanceState: 'Retry when the instance is running or stopped again, or apply the fix by hand.',
  };
  const action = advice[error.name];
  return {
    ...planned,
    outcome: 'failed',
    reason: error.name,
    headline: `${operation} failed: ${error.name}`,
    error: { operation, code: error.name, message: error.message },
    actionsRequired: action === undefined ? planned.actionsRequired : [action, ...planned.actionsRequired],
  };
}

/** Returns a permanent error for the `failed` report; throws anything a retry may get past. */
function permanentOrThrow(error: unknown): Error {
  if (error instanceof Error && PERMANENT_ERRORS.has(error.name)) return error;
  throw error;
}

function isNamed(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}

function fieldList(plan: ChangePlan): string {
  return plan.changes.map((change) => `${change.field} ${change.from} -> ${change.to}`).join(', ');
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

function resultOf(
  report: RemediationReport,
  flags: { modified: boolean; published: boolean; redelivered: boolean },
): RemediationResult {
  return {
    outcome: report.outcome,
    reason: report.reason,
    eventId: report.eventId,
    instanceId: report.instanceId,
    cluster: report.cluster,
    ...flags,
    verified: report.verification === undefined ? undefined : report.verification.status === 'verified',
  };
}
