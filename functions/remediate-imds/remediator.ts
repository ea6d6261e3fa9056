import { GetMetricStatisticsCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  CreateTagsCommand,
  ModifyInstanceMetadataOptionsCommand,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DebugLogger } from '../shared/clients.ts';
import { describeOneInstance, sleep as defaultSleep } from '../shared/ec2.ts';
import type { Exemption } from '../shared/exemption.ts';
import { cleanText } from '../shared/sanitize.ts';
import type { RemediationConfig } from './config.ts';
import { deliverReport } from './report-delivery.ts';
import { formatLedger, LEDGER_TAG_KEY, ledgerEventRef, ledgerNamesEvent, parseLedger, type Ledger } from './ledger.ts';
import {
  renderNotification,
  sanitizeReport,
  type Imdsv1GuardReport,
  type Outcome,
  type RemediationReport,
  type Verification,
} from './notification.ts';
import {
  assessInstance,
  detectDrift,
  diffMetadata,
  planChange,
  type Assessment,
  type ChangePlan,
  type FieldChange,
  type Imdsv1Finding,
  type MetadataValues,
  type SkipReason,
} from './plan.ts';
import { MAX_RELOOKS, parseTrigger, publishesSkips, RELOOK_DELAY_SECONDS, relookBody, type RemediationPath, type Trigger } from './trigger.ts';

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

/**
 * What one execution environment has learnt of how long EC2 takes to apply a change: the first
 * verification read waits about that long instead of 250 ms, so that a burst of launches spends
 * one or two DescribeInstances per verification, not four (DescribeInstances refills 20/s per
 * account and region, shared with the change's other reads and with everything else in the
 * account). Seen applied on the first read: the next one looks a fifth earlier; not: the next
 * one waits as long as this one took.
 */
export interface ApplyEstimate {
  ms: number | undefined;
}

export interface RemediatorDeps {
  readonly ec2: Pick<EC2Client, 'send'>;
  readonly cloudwatch: Pick<CloudWatchClient, 'send'>;
  readonly sns: Pick<SNSClient, 'send'>;
  /** Sends delayed re-looks to the remediation queue (config.remediationQueueUrl). */
  readonly sqs: Pick<SQSClient, 'send'>;
  readonly events: Pick<EventBridgeClient, 'send'>;
  readonly config: RemediationConfig;
  /** The function's own account (from its ARN): events for any other account are refused. */
  readonly accountId: string;
  readonly logger: DebugLogger;
  /** `context.getRemainingTimeInMillis`. */
  readonly remainingTimeMs: () => number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly verification?: Partial<VerificationTiming>;
  /** Kept by the handler for its execution environment; without it every verification starts at initialDelayMs. */
  readonly applyEstimate?: ApplyEstimate;
}

export interface RemediationResult {
  readonly path: RemediationPath;
  readonly outcome: Outcome;
  readonly reason: string;
  readonly eventId: string;
  readonly instanceId: string;
  readonly cluster: string | undefined;
  /** A real (not DryRun) ModifyInstanceMetadataOptions call succeeded in this invocation. */
  readonly modified: boolean;
  readonly published: boolean;
  /**
   * This invocation only re-sent the notification of a change an earlier attempt made but could
   * not report (found in the instance's ledger tag); it modified nothing.
   */
  readonly redelivered: boolean;
  readonly verified: boolean | undefined;
  /** From the event's time to the read that verified this invocation's change; undefined otherwise. */
  readonly secondsToVerifiedFix: number | undefined;
}

/**
 * An `unnotified` ledger of another event written this recently is a remediation in flight: its
 * owner's first retry comes within it (the queue's 720 s visibility timeout plus the function's
 * 120 s). An older claim counts as abandoned, and any event acts.
 */
export const IN_FLIGHT_CLAIM_MS = 15 * 60_000;

/** Publish failed after SNS's own retries: thrown so the message fails and SQS redelivers the event. */
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
 * Everything else that survives the SDK's retries is thrown: the message fails and SQS redelivers it.
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
  // CreateTags on an instance that already has the EC2 maximum of 50 tags.
  'TagLimitExceeded',
  // CloudWatch's names for a request it will refuse again (the guard's GetMetricStatistics).
  'InvalidParameterValueException',
  'InvalidParameterCombinationException',
  'MissingRequiredParameterException',
]);

type Failure = { readonly operation: string; readonly error: Error };


/**
 * Why nothing is published: a skip reason the path keeps quiet, a duplicate, another event's
 * remediation in flight (`in-flight`) or ahead of this one (`superseded`), or a re-look sent
 * (`relook-scheduled`: tags not there yet, or the claim contended).
 */
type SilentReason = SkipReason | 'duplicate' | 'in-flight' | 'superseded' | 'relook-scheduled' | 'relooks-exhausted';

/** What one invocation decided: a report to publish, or nothing. */
type Handled =
  | { readonly report: undefined; readonly silentReason: SilentReason }
  | {
      readonly report: RemediationReport;
      readonly modified: boolean;
      readonly redelivered: boolean;
      /** The `unnotified` ledger on the instance for this report: marked `notified` once it is published. */
      readonly ledger: Ledger | undefined;
      readonly secondsToVerifiedFix?: number;
      /** Set when another event changed the instance too and reported it: nothing is published. */
      readonly silentReason?: 'reported-by-another-event';
    };

type Planned = Omit<RemediationReport, 'outcome' | 'reason' | 'headline'>;

/**
 * Handles one event of either path ("Config Rules Compliance Change", or "EC2 Instance
 * State-change Notification" for `running`): validate and check it is ours, re-read the
 * instance, decide, look for IMDSv1 use, change (enforce) or DryRun (notify), verify, report.
 *
 * Idempotency, with the state on the instance itself (the reasoning is in docs/remediation.md):
 * - The decision comes from the instance as EC2 describes it now, never from the event.
 * - Before a real change the function writes a ledger tag (`imds-guard:remediation`) naming the
 *   event, the values before and the values sent, `state=unnotified`; once the notification is
 *   published it rewrites it `state=notified`. Every execution environment reads the tag with
 *   the DescribeInstances it makes anyway, so a retry of the event anywhere can tell "my change
 *   landed but was not reported" (re-send the report, modify nothing) from "handled and
 *   reported" (publish nothing).
 */
export async function remediateEvent(event: unknown, deps: RemediatorDeps): Promise<RemediationResult> {
  const trigger = parseTrigger(event, { configRuleName: deps.config.configRuleName, accountId: deps.accountId, region: deps.config.region });

  const handled = await remediate(trigger, deps);
  if (handled.report === undefined) {
    return {
      path: trigger.path,
      outcome: 'skipped',
      reason: handled.silentReason,
      eventId: trigger.eventId,
      instanceId: trigger.instanceId,
      cluster: undefined,
      modified: false,
      published: false,
      redelivered: false,
      verified: undefined,
      secondsToVerifiedFix: undefined,
    };
  }
  if (handled.silentReason !== undefined) {
    deps.logger.debug('not reporting', { instanceId: trigger.instanceId, reason: handled.silentReason });
    return {
      ...resultOf(handled.report, { modified: handled.modified, published: false, redelivered: false }),
      reason: handled.silentReason,
      secondsToVerifiedFix: handled.secondsToVerifiedFix,
    };
  }
  if (handled.report.error !== undefined) {
    // The notification withholds the encoded authorization failure message; the function's
    // operators find it here, to decode with sts:DecodeAuthorizationMessage.
    const { operation, code, message } = handled.report.error;
    deps.logger.warn('AWS refused a call', { instanceId: trigger.instanceId, operation, code, message: cleanText(message, 4_000) });
  }
  await publish(deps, trigger.eventId, handled.report, handled.ledger !== undefined);
  if (handled.ledger !== undefined) await markNotified(deps, trigger.instanceId, handled.ledger);
  return {
    ...resultOf(handled.report, { modified: handled.modified, published: true, redelivered: handled.redelivered }),
    secondsToVerifiedFix: handled.secondsToVerifiedFix,
  };
}

/** The report to publish, or the reason to publish nothing. */
async function remediate(trigger: Trigger, deps: RemediatorDeps): Promise<Handled> {
  const { config } = deps;
  const base = baseReport(trigger, deps);
  const reported = (report: RemediationReport): Handled => ({ report, modified: false, redelivered: false, ledger: undefined });
  const silent = (silentReason: SilentReason): Handled => ({ report: undefined, silentReason });

  let instance: Instance | undefined;
  try {
    instance = await describeOneInstance(deps.ec2, trigger.instanceId);
  } catch (error) {
    if (isNamed(error, 'InvalidInstanceID.NotFound')) instance = undefined;
    else return reported(failedReport(base, { operation: 'DescribeInstances', error: permanentOrThrow(error) }));
  }

  const found = ledgerOf(instance);
  const ledger = found !== undefined && ledgerNamesEvent(found, trigger.eventId) ? found : undefined;
  if (ledger?.state === 'notified') {
    // This event's change was made and reported: a duplicate or late delivery, whatever the
    // instance looks like now (a new non-compliance comes with its own event).
    deps.logger.debug('skipping', { instanceId: trigger.instanceId, reason: 'duplicate', ledgerAt: ledger.at });
    return { report: undefined, silentReason: 'duplicate' };
  }

  const assessment = assessInstance(instance, trigger.instanceId, config.ruleParameters, new Date((deps.now ?? Date.now)()));
  if (ledger?.state === 'unnotified' && instance !== undefined) {
    const resent = reportFromLedger(base, instance, assessment, ledger, deps);
    if (resent !== undefined) return resent;
    // The ledger was written but its change never landed (the call failed after the tag) or was
    // undone since: a first attempt again, and the ledger is rewritten.
    deps.logger.warn('ledger names this event but its change is not on the instance: acting again', {
      instanceId: trigger.instanceId,
      eventId: trigger.eventId,
    });
  }
  if (assessment.kind === 'skip') {
    deps.logger.debug('skipping', { instanceId: trigger.instanceId, reason: assessment.reason, path: trigger.path });
    // Tags can lag a launch: an instance with no NodeTagKeys tag yet is looked at again.
    if (trigger.path === 'state-change' && assessment.reason === 'not-eks-node' && instance !== undefined) {
      return silent(await relook(deps, trigger, 'no NodeTagKeys tag yet'));
    }
    if (!assessment.publish || !publishesSkips(trigger)) return silent(assessment.reason);
    return reported(skippedReport(base, assessment));
  }
  if (found !== undefined && ledger === undefined && isInFlight(found, deps)) {
    // Another event (the other path, or a newer finding) holds the claim: its own retries finish it.
    deps.logger.debug('skipping', { instanceId: trigger.instanceId, reason: 'in-flight', claimedBy: found.event, claimedAt: found.at });
    return silent('in-flight');
  }
  // assessInstance only acts on an instance it was given.
  const current = instance as Instance;
  const node = assessment.judgement.node;
  const nodeReport = { ...base, cluster: node.cluster, nodeKind: node.kind, nodeGroup: node.group, exemption: reportedExemption(assessment.judgement.exemption) };
  const drift = detectDrift(assessment.facts.tags, node);

  let imdsv1: Imdsv1Finding | undefined;
  if (assessment.enforcesTokens && config.imdsv1Guard) {
    try {
      imdsv1 = await readImdsv1Calls(deps, trigger.instanceId, config.imdsv1LookbackHours);
    } catch (error) {
      const failure = { operation: 'GetMetricStatistics', error: permanentOrThrow(error) };
      return reported(failedReport({ ...nodeReport, drift }, failure));
    }
  }
  const plan = planChange(assessment, imdsv1);
  const guard: Imdsv1GuardReport = {
    enabled: config.imdsv1Guard,
    lookbackHours: config.imdsv1LookbackHours,
    imdsv1Calls: imdsv1?.calls,
    tokensHeldBack: plan.tokensHeldBack,
  };
  const planned: Planned = {
    ...nodeReport,
    before: plan.before,
    after: plan.after,
    changes: plan.changes,
    imdsv1Guard: guard,
    actionsRequired: plan.actionsRequired,
    drift,
  };

  if (plan.changes.length === 0) {
    return reported({
      ...planned,
      outcome: 'skipped',
      reason: 'manual-action-required',
      headline: 'nothing this function can change: action required',
    });
  }

  if (config.mode === 'notify') return reported(await dryRun(deps, plan, planned));

  // Written before the change, so that a retry anywhere knows a change may have been made.
  const written: Ledger = {
    event: ledgerEventRef(trigger.eventId),
    state: 'unnotified',
    before: plan.before,
    after: plan.after,
    imdsv1,
    at: isoNow(deps),
  };
  try {
    await writeLedger(deps, trigger.instanceId, written);
  } catch (error) {
    return reported(failedReport(planned, { operation: 'CreateTags', error: permanentOrThrow(error) }));
  }
  const claim = await confirmClaim(deps, trigger, written, plan);
  if (claim !== 'held') return silent(claim === 'lost' ? await relook(deps, trigger, 'claim held by another event') : claim);

  try {
    await deps.ec2.send(new ModifyInstanceMetadataOptionsCommand(plan.request));
  } catch (error) {
    // A transient error is thrown with the ledger left `unnotified`: the change may have landed,
    // and the retry finds out from the instance.
    const failure = { operation: 'ModifyInstanceMetadataOptions', error: permanentOrThrow(error) };
    // Refused for good: nothing was modified, and the ledger must not let a later delivery of
    // this event report somebody else's fix as this function's.
    await writeLedgerOrWarn(deps, trigger.instanceId, { ...written, state: 'failed', at: isoNow(deps) }, 'failed');
    return reported(failedReport(planned, failure));
  }
  // Verification never throws: a failed read costs the proof, not the notification.
  const { verification, ledgerSeen } = await verify(deps, trigger.instanceId, plan.after);
  // verify returns on the read that verified: now is when the fix was seen in place.
  const fixedAt = (deps.now ?? Date.now)();
  const silentAsReported = await reportedByAnotherEvent(deps, trigger, ledgerSeen);
  return {
    report: appliedReport(planned, plan.changes, verification, ''),
    modified: true,
    redelivered: false,
    ledger: silentAsReported ? undefined : written,
    ...(silentAsReported ? { silentReason: 'reported-by-another-event' as const } : {}),
    ...(verification.status === 'verified' ? { secondsToVerifiedFix: (fixedAt - trigger.time.getTime()) / 1000 } : {}),
  };
}

/**
 * A retry of an event whose change was made but whose notification did not go out (the ledger
 * names the event, `unnotified`): the report is rebuilt from the ledger's values before and the
 * instance's values now, and nothing is modified. Undefined when the change is not on the
 * instance: the instance still needs what this function would send, given the IMDSv1 guard's
 * finding at the time.
 */
function reportFromLedger(
  base: Planned,
  instance: Instance,
  assessment: Assessment,
  ledger: Ledger,
  deps: RemediatorDeps,
): Handled | undefined {
  let actionsRequired: readonly string[] = [];
  if (assessment.kind === 'act') {
    // The guard's finding from the ledger: no CloudWatch call, and the same decision as then.
    const plan = planChange(assessment, ledger.imdsv1);
    if (plan.changes.length > 0) return undefined;
    actionsRequired = plan.actionsRequired;
  }
  const node = assessment.kind === 'act' ? assessment.judgement.node : assessment.node;
  const exemption = assessment.kind === 'act' ? assessment.judgement.exemption : assessment.exemption;
  const tags = assessment.facts?.tags ?? {};
  const options = instance.MetadataOptions;
  const now: MetadataValues = {
    httpTokens: options?.HttpTokens,
    hopLimit: options?.HttpPutResponseHopLimit,
    httpEndpoint: options?.HttpEndpoint,
  };
  const observed = { state: options?.State, ...now };
  const sent = matches(observed, ledger.after);
  const verification: Verification =
    observed.state === 'applied' && sent
      ? { status: 'verified', detail: 'State applied with the values sent (read on the retry that re-sent this notification)', waitedMs: 0, observed }
      : {
          status: 'not-verified',
          detail: `State ${observed.state ?? 'absent'}${sent ? '' : ', values differ from those sent'} on the retry that re-sent this notification; Config will re-evaluate when the change lands`,
          waitedMs: 0,
          observed,
        };
  const planned: Planned = {
    ...base,
    cluster: node?.cluster,
    nodeKind: node?.kind,
    nodeGroup: node?.group,
    exemption: reportedExemption(exemption),
    before: ledger.before,
    after: now,
    changes: diffMetadata(ledger.before, now),
    imdsv1Guard: {
      enabled: deps.config.imdsv1Guard,
      lookbackHours: ledger.imdsv1?.lookbackHours ?? deps.config.imdsv1LookbackHours,
      imdsv1Calls: ledger.imdsv1?.calls,
      tokensHeldBack: ledger.imdsv1 !== undefined && ledger.imdsv1.calls > 0 && ledger.after.httpTokens !== 'required',
    },
    actionsRequired,
    drift: detectDrift(tags, node),
  };
  return {
    report: appliedReport(planned, planned.changes, verification, '; notification re-sent (the first attempt was not delivered)'),
    modified: false,
    redelivered: true,
    ledger,
  };
}

function appliedReport(planned: Planned, changes: readonly FieldChange[], verification: Verification, note: string): RemediationReport {
  const partial = planned.actionsRequired.length > 0;
  const verifiedText = verification.status === 'verified' ? 'verified' : 'not verified yet';
  return {
    ...planned,
    outcome: partial ? 'partially-remediated' : 'remediated',
    reason: partial ? 'applied-partially' : 'applied',
    headline: partial
      ? `changed ${fieldList(changes)} (${verifiedText}); action required for the rest${note}`
      : `changed ${fieldList(changes)} (${verifiedText})${note}`,
    verification,
  };
}

async function writeLedger(deps: RemediatorDeps, instanceId: string, ledger: Ledger): Promise<void> {
  await deps.ec2.send(new CreateTagsCommand({ Resources: [instanceId], Tags: [{ Key: LEDGER_TAG_KEY, Value: formatLedger(ledger) }] }));
}

/** Best effort: the invocation's outcome does not depend on it, and the log says what a failure costs. */
async function writeLedgerOrWarn(deps: RemediatorDeps, instanceId: string, ledger: Ledger, state: string): Promise<void> {
  try {
    await writeLedger(deps, instanceId, ledger);
  } catch (error) {
    deps.logger.warn(`ledger tag not updated to state=${state}`, {
      instanceId,
      event: ledger.event,
      error: (error as Error).name,
      consequence:
        state === 'notified'
          ? 'a later delivery of this event (duplicate or replay) publishes this notification once more'
          : 'a later delivery of this event may report a fix made by someone else as this function\'s',
    });
  }
}

/**
 * The ledger is a tag, written last-writer-wins: two events (one per path) that read the instance
 * before either wrote would both change it. After writing its claim, an invocation reads the
 * instance once more and changes it only when its own claim is the one there and the change is
 * still needed. `lost`: another event's claim replaced it (or this one is not visible yet); that
 * one acts, and this event is looked at again later in case it does not. `superseded`: the
 * instance was changed in between; the ledger is marked `yielded` so that a later delivery of
 * this event does not take the change for its own.
 */
async function confirmClaim(
  deps: RemediatorDeps,
  trigger: Trigger,
  claim: Ledger,
  plan: ChangePlan,
): Promise<'held' | 'lost' | 'superseded'> {
  let instance: Instance | undefined;
  try {
    instance = await describeOneInstance(deps.ec2, trigger.instanceId);
  } catch (error) {
    // The claim stays `unnotified`: a retry of this event finds it and acts as a first attempt.
    if (!isNamed(error, 'InvalidInstanceID.NotFound')) throw error;
  }
  const now = ledgerOf(instance);
  if (now === undefined || !ledgerNamesEvent(now, trigger.eventId)) {
    deps.logger.debug('claim not held', { instanceId: trigger.instanceId, eventId: trigger.eventId, heldBy: now?.event });
    return 'lost';
  }
  const assessment = assessInstance(instance, trigger.instanceId, deps.config.ruleParameters, new Date((deps.now ?? Date.now)()));
  const again = assessment.kind === 'act' ? planChange(assessment, claim.imdsv1) : undefined;
  if (again !== undefined && again.changes.length > 0 && sameValues(again.after, plan.after)) return 'held';
  deps.logger.debug('superseded', { instanceId: trigger.instanceId, eventId: trigger.eventId });
  await writeLedgerOrWarn(deps, trigger.instanceId, { ...claim, state: 'yielded', at: isoNow(deps) }, 'yielded');
  return 'superseded';
}

/**
 * Sends the event back to the remediation queue with a delay, at most MAX_RELOOKS times; past
 * that the event is dropped quietly.
 */
async function relook(deps: RemediatorDeps, trigger: Trigger, why: string): Promise<'relook-scheduled' | 'relooks-exhausted'> {
  if (trigger.attempt >= MAX_RELOOKS) {
    deps.logger.debug('not looked at again', { instanceId: trigger.instanceId, why, attempt: trigger.attempt });
    return 'relooks-exhausted';
  }
  await deps.sqs.send(
    new SendMessageCommand({ QueueUrl: deps.config.remediationQueueUrl, MessageBody: relookBody(trigger), DelaySeconds: RELOOK_DELAY_SECONDS }),
  );
  deps.logger.debug('looked at again later', { instanceId: trigger.instanceId, why, attempt: trigger.attempt + 1 });
  return 'relook-scheduled';
}

function isInFlight(ledger: Ledger, deps: RemediatorDeps): boolean {
  return ledger.state === 'unnotified' && (deps.now ?? Date.now)() - Date.parse(ledger.at) < IN_FLIGHT_CLAIM_MS;
}

function sameValues(a: MetadataValues, b: MetadataValues): boolean {
  return a.httpTokens === b.httpTokens && a.hopLimit === b.hopLimit && a.httpEndpoint === b.httpEndpoint;
}

async function markNotified(deps: RemediatorDeps, instanceId: string, ledger: Ledger): Promise<void> {
  await writeLedgerOrWarn(deps, instanceId, { ...ledger, state: 'notified', at: isoNow(deps) }, 'notified');
}

function isoNow(deps: RemediatorDeps): string {
  return new Date((deps.now ?? Date.now)()).toISOString();
}

async function dryRun(
  deps: RemediatorDeps,
  plan: ChangePlan,
  planned: Planned,
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
    headline: `notify mode: would change ${fieldList(plan.changes)} (DryRun: permitted)${rest}`,
  };
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

interface Polled {
  /** The instance as the last successful read returned it. */
  readonly last: Instance | undefined;
  readonly done: boolean;
  readonly reads: number;
  readonly waitedMs: number;
}

/**
 * Reads the instance with a doubling wait until `done` says so, within the invocation's time.
 * A failed read is logged and the polling goes on: after the change, a read costs only proof.
 */
async function pollInstance(
  deps: RemediatorDeps,
  instanceId: string,
  done: (instance: Instance | undefined) => boolean,
  firstDelayMs?: number,
): Promise<Polled> {
  const timing = { ...DEFAULT_VERIFICATION_TIMING, ...deps.verification };
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  const start = now();
  const budget = Math.min(timing.maxWaitMs, deps.remainingTimeMs() - timing.safetyMarginMs);
  const deadline = start + Math.max(0, budget);
  let delay = Math.min(Math.max(firstDelayMs ?? timing.initialDelayMs, timing.initialDelayMs), timing.maxDelayMs);
  let last: Instance | undefined;
  let reads = 0;
  while (now() + delay <= deadline) {
    await sleep(delay);
    reads++;
    try {
      last = await describeOneInstance(deps.ec2, instanceId);
      if (done(last)) return { last, done: true, reads, waitedMs: now() - start };
    } catch (error) {
      deps.logger.warn('read after the change failed', { instanceId, error: (error as Error).name });
    }
    delay = Math.min(delay * 2, timing.maxDelayMs);
  }
  return { last, done: false, reads, waitedMs: now() - start };
}

function observedOptions(instance: Instance | undefined): NonNullable<Verification['observed']> {
  const options = instance?.MetadataOptions;
  return { state: options?.State, httpTokens: options?.HttpTokens, hopLimit: options?.HttpPutResponseHopLimit, httpEndpoint: options?.HttpEndpoint };
}

/**
 * Polls until EC2 reports the options applied with the values sent. Also returns the ledger the
 * last read carried: it tells whether another event changed the instance too.
 */
async function verify(deps: RemediatorDeps, instanceId: string, expected: MetadataValues): Promise<{ verification: Verification; ledgerSeen: Ledger | undefined }> {
  const applied = (instance: Instance | undefined) => {
    const observed = observedOptions(instance);
    return observed.state === 'applied' && matches(observed, expected);
  };
  const estimate = deps.applyEstimate;
  const polled = await pollInstance(deps, instanceId, applied, estimate?.ms);
  if (estimate !== undefined && polled.done) estimate.ms = polled.reads === 1 ? polled.waitedMs * 0.8 : polled.waitedMs;
  const ledgerSeen = ledgerOf(polled.last);
  const observed = polled.last === undefined ? undefined : observedOptions(polled.last);
  if (polled.done) {
    return { verification: { status: 'verified', detail: `State applied with the values sent after ${seconds(polled.waitedMs)} s`, waitedMs: polled.waitedMs, observed }, ledgerSeen };
  }
  const last = observed === undefined ? 'no successful read' : `last read: State ${observed.state ?? 'absent'}${matches(observed, expected) ? '' : ', values differ'}`;
  return {
    verification: {
      status: 'not-verified',
      detail: `not applied within ${seconds(polled.waitedMs)} s (${polled.reads} read(s); ${last}); Config will re-evaluate when the change lands`,
      waitedMs: polled.waitedMs,
      observed,
    },
    ledgerSeen,
  };
}

/**
 * Two events that both changed the instance (their claims were confirmed within one round trip)
 * report it once: the one whose claim the ledger names reports; the other waits for that claim
 * to resolve. True when the other event reported the change (this one stays silent); false when
 * this one must report it (the ledger names this event, the other event yielded, or the wait ran
 * out: a second notification rather than none).
 */
async function reportedByAnotherEvent(deps: RemediatorDeps, trigger: Trigger, seen: Ledger | undefined): Promise<boolean> {
  const other = (ledger: Ledger | undefined) => ledger !== undefined && !ledgerNamesEvent(ledger, trigger.eventId);
  if (!other(seen) || seen?.state === 'yielded' || seen?.state === 'failed') return false;
  if (seen?.state === 'notified') return true;
  const settled = await pollInstance(deps, trigger.instanceId, (instance) => {
    const ledger = ledgerOf(instance);
    return !other(ledger) || ledger?.state !== 'unnotified';
  });
  const ledger = ledgerOf(settled.last);
  return settled.done && other(ledger) && ledger?.state === 'notified';
}

function ledgerOf(instance: Instance | undefined): Ledger | undefined {
  return parseLedger(instance?.Tags?.find((tag) => tag.Key === LEDGER_TAG_KEY)?.Value);
}

function matches(observed: MetadataValues, expected: MetadataValues): boolean {
  return (
    (expected.httpTokens === undefined || observed.httpTokens === expected.httpTokens) &&
    observed.hopLimit === expected.hopLimit &&
    (expected.httpEndpoint === undefined || observed.httpEndpoint === expected.httpEndpoint)
  );
}

async function publish(deps: RemediatorDeps, eventId: string, report: RemediationReport, fromLedger: boolean): Promise<void> {
  try {
    await deliverReport(deps, renderNotification(report), { eventId, groupId: report.instanceId });
  } catch (error) {
    deps.logger.error('notification not delivered: the message fails so that SQS redelivers the event', {
      eventId,
      instanceId: report.instanceId,
      outcome: report.outcome,
      error: (error as Error).name,
      // A change already made is re-reported from the instance's ledger tag, in any execution
      // environment; anything else is decided again on the retry.
      retry: fromLedger ? 're-sends this report from the ledger tag, without modifying' : 'decides again from the instance',
      notification: sanitizeReport(report),
    });
    throw new NotificationDeliveryError(report, error);
  }
}

function baseReport(trigger: Trigger, deps: RemediatorDeps): Omit<RemediationReport, 'outcome' | 'reason' | 'headline'> {
  return {
    mode: deps.config.mode,
    path: trigger.path,
    eventId: trigger.eventId,
    configRuleName: deps.config.configRuleName,
    accountId: trigger.accountId,
    region: trigger.region,
    instanceId: trigger.instanceId,
    cluster: undefined,
    nodeKind: undefined,
    nodeGroup: undefined,
    exemption: undefined,
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
    exemption: reportedExemption(assessment.exemption),
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

/** Reports carry the exemption only when the instance has the tag, valid or not. */
function reportedExemption(exemption: Exemption): Exemption | undefined {
  return exemption.status === 'none' ? undefined : exemption;
}

function isNamed(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}

function fieldList(changes: readonly FieldChange[]): string {
  return changes.map((change) => `${change.field} ${change.from} -> ${change.to}`).join(', ');
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

function resultOf(
  report: RemediationReport,
  flags: { modified: boolean; published: boolean; redelivered: boolean },
): Omit<RemediationResult, 'secondsToVerifiedFix'> {
  return {
    path: report.path,
    outcome: report.outcome,
    reason: report.reason,
    eventId: report.eventId,
    instanceId: report.instanceId,
    // The result is logged and returned to Lambda: the tag value is cleaned like any output.
    cluster: report.cluster === undefined ? undefined : cleanText(report.cluster, 100),
    ...flags,
    verified: report.verification === undefined ? undefined : report.verification.status === 'verified',
  };
}
