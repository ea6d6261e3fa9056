import { createHash } from 'node:crypto';
import { DescribeAutoScalingGroupsCommand, type AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateVersionCommand,
  ModifyInstanceMetadataDefaultsCommand,
  ModifyLaunchTemplateCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { PublishCommand, type MessageAttributeValue, type SNSClient } from '@aws-sdk/client-sns';
import { z } from 'zod';
import type { DebugLogger } from '../shared/clients.ts';
import type { Verdict } from '../shared/config-rule/rule.ts';
import { InvalidConfigurationError, InvalidEventError } from '../shared/errors.ts';
import { judgeAccountDefaults } from '../shared/sources/account-defaults.ts';
import { groupNode, judgeAutoScalingGroup, type AutoScalingGroupFacts } from '../shared/sources/auto-scaling-group.ts';
import { groupFromSdk } from '../shared/sources/facts.ts';
import { judgeLaunchTemplate } from '../shared/sources/launch-template.ts';
import { planAccountRepair, planGroupRepair, planTemplateRepair, type RepairAction, type RepairPlan } from '../shared/sources/repair.ts';
import { ACCOUNT, AUTO_SCALING_GROUP, LAUNCH_TEMPLATE, sourceExemption } from '../shared/sources/source-judgement.ts';
import { describeExemption, NO_EXEMPTION, type Exemption } from '../shared/exemption.ts';
import { SourceReader } from '../shared/sources/source-reader.ts';
import { accountId, isoTimestamp, zodProblems } from '../shared/validation.ts';
import { EVENT_DETAIL_TYPE, EVENT_SOURCE } from './compliance-event.ts';
import type { RemediationConfig } from './config.ts';
import { JSON_BLOCK_MARKER, toSubject, type Outcome } from './notification.ts';

export const SOURCE_RESOURCE_TYPES = [AUTO_SCALING_GROUP, LAUNCH_TEMPLATE, ACCOUNT] as const;

/** Versions this function creates say so, with the event: a retry finds its own work (the source's ledger). */
const LEDGER_PREFIX = 'imds-guard:remediation event ';

const SourceEventSchema = z.looseObject({
  id: z.string().min(1),
  source: z.literal(EVENT_SOURCE),
  'detail-type': z.literal(EVENT_DETAIL_TYPE),
  account: accountId,
  region: z.string().min(1),
  time: isoTimestamp,
  detail: z.looseObject({
    configRuleName: z.string().min(1),
    resourceType: z.enum(SOURCE_RESOURCE_TYPES),
    resourceId: z.string().min(1).max(256),
    awsAccountId: accountId,
    awsRegion: z.string().min(1),
    newEvaluationResult: z.looseObject({
      complianceType: z.literal('NON_COMPLIANT', { error: 'must be NON_COMPLIANT (only non-compliant results are remediated)' }),
    }),
  }),
});

/** Routes a queue message: the sources rule's events go here, the instance rule's to remediateEvent. */
export function isSourceEvent(event: unknown): boolean {
  const type = (event as { detail?: { resourceType?: unknown } } | null)?.detail?.resourceType;
  return typeof type === 'string' && (SOURCE_RESOURCE_TYPES as readonly string[]).includes(type);
}

/** `SOURCES_CONFIG_RULE_NAME`: the sources rule, whose events this function accepts. */
export function sourcesRuleName(env: Readonly<Record<string, string | undefined>>): string {
  const name = env['SOURCES_CONFIG_RULE_NAME']?.trim() ?? '';
  if (!/^\S.{0,127}$/.test(name)) {
    throw new InvalidConfigurationError([`SOURCES_CONFIG_RULE_NAME must be the sources Config rule name (1-128 characters), got "${name}"`]);
  }
  return name;
}

export interface SourceRemediatorDeps {
  readonly ec2: Pick<EC2Client, 'send'>;
  readonly autoscaling: Pick<AutoScalingClient, 'send'>;
  readonly sns: Pick<SNSClient, 'send'>;
  readonly config: Pick<RemediationConfig, 'mode' | 'ruleParameters' | 'topicArn' | 'fifoTopic' | 'region'>;
  readonly sourcesRuleName: string;
  readonly accountId: string;
  readonly logger: DebugLogger;
}

export interface SourceRemediationResult {
  readonly outcome: Outcome;
  readonly reason: string;
  readonly eventId: string;
  readonly resourceType: string;
  readonly resourceId: string;
  readonly modified: boolean;
  readonly published: boolean;
  readonly redelivered: boolean;
  readonly verified: boolean | undefined;
}

interface SourceReport {
  readonly outcome: Outcome;
  readonly headline: string;
  readonly eventId: string;
  readonly configRuleName: string;
  readonly mode: RemediationConfig['mode'];
  readonly accountId: string;
  readonly region: string;
  readonly resourceType: string;
  readonly resourceId: string;
  /** The rule's annotation before and after. */
  readonly before: string;
  readonly after: string | undefined;
  readonly actionsTaken: readonly string[];
  readonly actionsRequired: readonly string[];
  readonly verification: string | undefined;
  readonly error: { readonly operation: string; readonly code: string; readonly message: string } | undefined;
}

const PERMANENT_ERRORS = new Set([
  'UnauthorizedOperation',
  'AccessDenied',
  'AccessDeniedException',
  'OperationNotPermitted',
  'InvalidParameterValue',
  'InvalidParameterCombination',
  'InvalidLaunchTemplateId.NotFound',
  'InvalidLaunchTemplateId.VersionNotFound',
  'InvalidLaunchTemplateName.NotFoundException',
  'ValidationError',
]);

/**
 * The sources' remediation, on the same queue and with the same modes and notification as the
 * instances': re-read the source (the event is never trusted), re-judge it, plan by owner, then
 * `notify` (DryRun the writes, change nothing) or `enforce` (write, re-read, verify), and publish.
 */
export async function remediateSourceEvent(event: unknown, deps: SourceRemediatorDeps): Promise<SourceRemediationResult> {
  const parsed = SourceEventSchema.safeParse(event);
  if (!parsed.success) throw new InvalidEventError(zodProblems(parsed.error));
  const { data } = parsed;
  const { detail } = data;
  const problems: string[] = [];
  if (detail.configRuleName !== deps.sourcesRuleName) problems.push(`detail.configRuleName "${detail.configRuleName}" is not this function's sources rule "${deps.sourcesRuleName}"`);
  if (detail.awsAccountId !== deps.accountId || data.account !== deps.accountId) problems.push(`account ${detail.awsAccountId} is not this function's account ${deps.accountId}`);
  if (detail.awsRegion !== deps.config.region || data.region !== deps.config.region) problems.push(`region ${detail.awsRegion} is not this function's region ${deps.config.region}`);
  if (detail.resourceType === ACCOUNT && detail.resourceId !== deps.accountId) problems.push(`detail.resourceId ${detail.resourceId} is not this account`);
  if (problems.length > 0) throw new InvalidEventError(problems);

  const base = {
    eventId: data.id,
    configRuleName: detail.configRuleName,
    mode: deps.config.mode,
    accountId: deps.accountId,
    region: deps.config.region,
    resourceType: detail.resourceType,
    resourceId: detail.resourceId,
  };
  const params = deps.config.ruleParameters;
  const current = await assess(detail.resourceType, detail.resourceId, deps, params);
  if (current === undefined) {
    return finish(deps, { ...base, outcome: 'skipped', headline: 'the source no longer exists', before: '', after: undefined, actionsTaken: [], actionsRequired: [], verification: undefined, error: undefined });
  }
  if (current.verdict.compliance !== 'NON_COMPLIANT') {
    // A duplicate or late delivery: said once, by the delivery that fixed it, unless that one could not publish.
    if (current.ledgerNames(data.id)) {
      return finish(deps, { ...base, outcome: 'remediated', headline: 'fixed by an earlier attempt of this event (notification re-sent)', before: '', after: current.verdict.annotation, actionsTaken: [], actionsRequired: [], verification: 'verified', error: undefined }, { redelivered: true });
    }
    return { ...base, outcome: 'skipped', reason: `now ${current.verdict.compliance}: ${current.verdict.annotation}`, modified: false, published: false, redelivered: false, verified: undefined };
  }

  const plan = current.plan;
  const report = { ...base, before: current.verdict.annotation, actionsRequired: plan.actionsRequired };
  if (current.exemption.status === 'active') {
    // An active exemption stops the repair, as for an instance; the finding stays.
    return finish(deps, { ...report, outcome: 'skipped', headline: describeExemption(current.exemption), after: undefined, actionsTaken: [], verification: undefined, error: undefined });
  }
  if (plan.actions.length === 0) {
    return finish(deps, { ...report, outcome: 'skipped', headline: 'nothing this function may change: action required', after: undefined, actionsTaken: [], verification: undefined, error: undefined });
  }

  const taken: string[] = [];
  for (const action of plan.actions) {
    try {
      await apply(action, deps, data.id, deps.config.mode === 'notify');
      taken.push(describe(action));
    } catch (error) {
      if (deps.config.mode === 'notify' && (error as Error).name === 'DryRunOperation') {
        taken.push(describe(action));
        continue;
      }
      if (!(error instanceof Error) || !PERMANENT_ERRORS.has(error.name)) throw error;
      return finish(deps, {
        ...report,
        outcome: 'failed',
        headline: `${operationOf(action)} failed with ${error.name}`,
        after: undefined,
        actionsTaken: taken,
        verification: undefined,
        error: { operation: operationOf(action), code: error.name, message: error.message },
      }, { modified: taken.length > 0 && deps.config.mode === 'enforce' });
    }
  }
  if (deps.config.mode === 'notify') {
    return finish(deps, { ...report, outcome: 'would-remediate', headline: `would ${taken.join('; ')}`, after: undefined, actionsTaken: [], verification: undefined, error: undefined });
  }
  const after = await assess(detail.resourceType, detail.resourceId, deps, params);
  const verified = after?.verdict.compliance === 'COMPLIANT';
  return finish(
    deps,
    {
      ...report,
      outcome: verified && plan.actionsRequired.length === 0 ? 'remediated' : 'partially-remediated',
      headline: taken.join('; '),
      after: after?.verdict.annotation,
      actionsTaken: taken,
      verification: verified ? 'verified: the source now launches compliant nodes' : `NOT verified: ${after?.verdict.annotation ?? 'source gone'}`,
      error: undefined,
    },
    { modified: true, verified },
  );
}

interface Assessment {
  readonly verdict: Verdict;
  readonly exemption: Exemption;
  readonly plan: RepairPlan;
  /** The version the source launches was created by this function for this event. */
  readonly ledgerNames: (eventId: string) => boolean;
}

/** The source as it is now, judged by the rule's own judgement, and what a repair would do. */
async function assess(resourceType: string, resourceId: string, deps: SourceRemediatorDeps, params: RemediationConfig['ruleParameters']): Promise<Assessment | undefined> {
  const read = new SourceReader(deps);
  const account = await read.accountDefaults();
  if (resourceType === ACCOUNT) {
    return { verdict: judgeAccountDefaults(resourceId, account, params), exemption: NO_EXEMPTION, plan: planAccountRepair(account, params), ledgerNames: () => false };
  }
  if (resourceType === AUTO_SCALING_GROUP) {
    const out = await deps.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [resourceId] }));
    const found = out.AutoScalingGroups?.[0];
    if (found === undefined) return undefined;
    const group: AutoScalingGroupFacts = groupFromSdk(found);
    const launches = groupNode(group, params) === undefined ? [] : await read.groupLaunches(group);
    const descriptions = launches.flatMap((l) => (l.kind === 'launch-template' ? [l.version?.description] : []));
    return {
      verdict: judgeAutoScalingGroup(group, launches, account, params),
      exemption: sourceExemption(group.tags, params, new Date()),
      plan: planGroupRepair(group, launches, account, params),
      ledgerNames: (eventId) => descriptions.some((d) => d === `${LEDGER_PREFIX}${eventId}`),
    };
  }
  const template = await read.template({ launchTemplateId: resourceId, launchTemplateName: undefined });
  if (template === undefined) return undefined;
  const input = await read.templateInput(template);
  return {
    verdict: judgeLaunchTemplate(input, params),
    exemption: sourceExemption(template.tags, params, new Date()),
    plan: planTemplateRepair(input, params),
    ledgerNames: (eventId) => input.version?.description === `${LEDGER_PREFIX}${eventId}`,
  };
}

async function apply(action: RepairAction, deps: SourceRemediatorDeps, eventId: string, dryRun: boolean): Promise<void> {
  if (action.kind === 'modify-account-defaults') {
    await deps.ec2.send(new ModifyInstanceMetadataDefaultsCommand({ ...action.target, DryRun: dryRun }));
    return;
  }
  const created = await deps.ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: action.launchTemplateId,
      SourceVersion: String(action.sourceVersion),
      VersionDescription: `${LEDGER_PREFIX}${eventId}`,
      LaunchTemplateData: { MetadataOptions: { ...action.options } },
      DryRun: dryRun,
    }),
  );
  if (action.setDefault) {
    const version = created.LaunchTemplateVersion?.VersionNumber ?? action.newVersion;
    await deps.ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: action.launchTemplateId, DefaultVersion: String(version), DryRun: dryRun }));
  }
}

function describe(action: RepairAction): string {
  if (action.kind === 'modify-account-defaults') {
    return `set the account's IMDS defaults to HttpTokens=${action.target.HttpTokens}, HttpPutResponseHopLimit=${action.target.HttpPutResponseHopLimit}`;
  }
  const options = Object.entries(action.options).map(([k, v]) => `${k}=${String(v)}`).join(', ');
  return `create version ${action.newVersion} of ${action.launchTemplateId} from version ${action.sourceVersion} with ${options}${action.setDefault ? ' and make it the default' : ''}`;
}

function operationOf(action: RepairAction): string {
  return action.kind === 'modify-account-defaults' ? 'ModifyInstanceMetadataDefaults' : 'CreateLaunchTemplateVersion';
}

const SHORT_TYPES: Readonly<Record<string, string>> = { [AUTO_SCALING_GROUP]: 'AutoScalingGroup', [LAUNCH_TEMPLATE]: 'LaunchTemplate', [ACCOUNT]: 'account defaults' };

/**
 * Publishes the report (subject, readable text, JSON block, attributes for filter policies) and
 * returns the result. Only what the rule and the APIs say of the source goes into it: names,
 * versions, options, commands; no tags values beyond those, no credentials.
 */
async function finish(
  deps: SourceRemediatorDeps,
  report: SourceReport,
  extra: { modified?: boolean; verified?: boolean; redelivered?: boolean } = {},
): Promise<SourceRemediationResult> {
  const subject = toSubject(`IMDS source ${report.outcome}: ${SHORT_TYPES[report.resourceType] ?? report.resourceType} ${report.resourceId} ${report.accountId}/${report.region}`);
  const lines = [
    `${SHORT_TYPES[report.resourceType] ?? report.resourceType} ${report.resourceId} in account ${report.accountId}, ${report.region}`,
    `Outcome: ${report.outcome} - ${report.headline}`,
    `Mode: ${report.mode}; rule: ${report.configRuleName}; event: ${report.eventId}`,
  ];
  if (report.before) lines.push('', `Before: ${report.before}`);
  if (report.after) lines.push(`After: ${report.after}`);
  if (report.verification) lines.push('', `Verification: ${report.verification}`);
  if (report.error) lines.push('', `Error: ${report.error.operation} failed with ${report.error.code}: ${report.error.message}`);
  if (report.actionsRequired.length > 0) lines.push('', 'Action required:', ...report.actionsRequired.map((a) => `  - ${a}`));
  lines.push('', 'No instance refresh was started: running nodes are fixed by the instance remediation.');
  const attributes: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries({
    outcome: report.outcome,
    accountId: report.accountId,
    region: report.region,
    resourceType: report.resourceType,
    resourceId: report.resourceId,
    actionRequired: String(report.actionsRequired.length > 0 || report.outcome === 'failed'),
  })) {
    attributes[name] = { DataType: 'String', StringValue: value };
  }
  await deps.sns.send(
    new PublishCommand({
      TopicArn: deps.config.topicArn,
      Subject: subject,
      Message: `${lines.join('\n')}\n\n${JSON_BLOCK_MARKER}\n${JSON.stringify(report, (_k, v: unknown) => v ?? null, 2)}\n`,
      MessageAttributes: attributes,
      ...(deps.config.fifoTopic
        ? { MessageGroupId: report.resourceId.slice(0, 128), MessageDeduplicationId: createHash('sha256').update(report.eventId).digest('hex') }
        : {}),
    }),
  );
  return {
    outcome: report.outcome,
    reason: report.headline,
    eventId: report.eventId,
    resourceType: report.resourceType,
    resourceId: report.resourceId,
    modified: extra.modified ?? false,
    published: true,
    redelivered: extra.redelivered ?? false,
    verified: extra.verified,
  };
}
