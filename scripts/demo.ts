/**
 * `npm run demo`: the whole flow on a laptop, no AWS account. A loopback emulator of EC2,
 * AWS Config, SNS, CloudWatch and SQS holds a realistic EKS fleet; the real Lambda handlers reach it
 * only through the SDK's standard AWS_ENDPOINT_URL, exactly as they would reach AWS.
 */
import { AutoScalingClient, UpdateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { SQSClient } from '@aws-sdk/client-sqs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runReport } from '../cli/report.ts';
import { formatTable } from '../cli/table.ts';
import { createRemediationQueues, drainQueue, sendEvents, type RemediationQueues } from '../emulator/event-source.ts';
import { demoFleet } from '../emulator/demo-fleet.ts';
import { JSON_BLOCK_MARKER } from '../functions/remediate-imds/notification.ts';
import { describeCoverage } from '../functions/shared/config-rule/recorder.ts';
import { managedNodeGroupNode, seedSourcesFleet, startEmulator, type Emulator, type PublishedMessage, type StateChangeEvent } from '../emulator/index.ts';
import { changeInvocation, lambdaContext, scheduledInvocation } from '../emulator/invocations.ts';

const RULE_NAME = 'eks-imds-guard';
const SOURCES_RULE_NAME = `${RULE_NAME}-sources`;
const RULE_PARAMETERS = { MinHopLimit: '2', ExemptionTagKey: 'imds-guard/exempt' };
const verbose = process.argv.includes('--verbose');

const emulator = await startEmulator();
try {
  await runDemo(emulator);
} finally {
  await emulator.close();
}

async function runDemo(emulator: Emulator): Promise<void> {
  const topicArn = emulator.createTopic('eks-imds-guard-notifications');
  Object.assign(process.env, emulator.clientEnv());
  const sqs = new SQSClient({});
  const queues = await createRemediationQueues(sqs, 'eks-imds-guard');
  // The handlers build their SDK clients at import: the environment must be set first.
  Object.assign(process.env, {
    CONFIG_RULE_NAME: RULE_NAME,
    TOPIC_ARN: topicArn,
    REMEDIATION_MODE: 'enforce',
    IMDSV1_GUARD: 'true',
    IMDSV1_LOOKBACK_HOURS: '24',
    RULE_PARAMETERS: JSON.stringify(RULE_PARAMETERS),
    SOURCES_CONFIG_RULE_NAME: SOURCES_RULE_NAME,
    ACCOUNT_ID: emulator.accountId,
    REMEDIATION_QUEUE_URL: queues.queueUrl,
    DEAD_LETTER_QUEUE_URL: queues.deadLetterQueueUrl,
    POWERTOOLS_LOG_LEVEL: verbose ? 'DEBUG' : 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  const { handler: evaluate } = await import('../functions/evaluate-imds/handler.ts');
  const { handler: remediate } = await import('../functions/remediate-imds/handler.ts');
  const { handler: evaluateSources } = await import('../functions/evaluate-sources/handler.ts');

  const names = seedFleet(emulator);
  const label = (id: string) => names.get(id) ?? id;
  console.log(`eks-imds-guard demo: loopback AWS emulator at ${emulator.url}, account ${emulator.accountId}, ${emulator.region}`);
  console.log(`Fleet: ${emulator.instances().length} instances (${[...names.values()].filter((n) => n.startsWith('non-EKS')).length} are not EKS nodes). Rule parameters: ${JSON.stringify(RULE_PARAMETERS)}\n`);

  heading('1. AWS Config runs the rule: ScheduledNotification -> evaluate-imds');
  emulator.resetCalls();
  let started = performance.now();
  const first = await evaluate(scheduledInvocation(emulator, { ruleName: RULE_NAME, ruleParameters: RULE_PARAMETERS }), lambdaContext(emulator, 'eks-imds-guard-evaluate'));
  const before = storedCounts(emulator);
  console.log(`Swept ${first.swept} nodes in ${ms(started)} with ${callSummary(emulator)}; non-EKS instances were filtered out by EC2.`);
  for (const coverage of first.recorder ?? []) console.log(`AWS Config: ${describeCoverage(coverage)}.`);
  console.log('');
  printCompliance(emulator, label);
  console.log('');

  heading('2. Compliance changes -> EventBridge -> SQS remediation queue -> remediate-imds (REMEDIATION_MODE=enforce)');
  const events = emulator.drainComplianceEvents().filter((e) => e.detail.newEvaluationResult.complianceType === 'NON_COMPLIANT');
  await sendEvents(sqs, queues.queueUrl, events);
  emulator.resetCalls();
  started = performance.now();
  const drained = await drainQueue(sqs, queues, remediate, () => lambdaContext(emulator, 'eks-imds-guard-remediate'));
  console.log(
    `${drained.received} NON_COMPLIANT events taken from the queue one a batch, ${drained.failed} failed, in ${ms(started)} ` +
      `with ${callSummary(emulator)} (the SQS calls are the event source mapping's).\n`,
  );

  heading(`3. SNS notifications published to ${topicArn.split(':').pop()}`);
  for (const message of emulator.published(topicArn)) {
    console.log(`[${message.messageAttributes.outcome?.stringValue ?? '?'}] Subject: ${message.subject ?? ''}`);
    for (const line of notificationHighlights(message.message)) console.log(`    ${line}`);
    console.log('');
  }

  heading('4. AWS Config runs the rule again');
  const second = await evaluate(scheduledInvocation(emulator, { ruleName: RULE_NAME, ruleParameters: RULE_PARAMETERS }), lambdaContext(emulator, 'eks-imds-guard-evaluate'));
  const written = Object.values(second.counts).reduce((sum, count) => sum + count, 0);
  console.log(`Swept ${second.swept} nodes: wrote ${written} evaluations (what changed), left ${second.unchanged} unchanged results alone (AWS Config bills every evaluation it records).\n`);
  printCompliance(emulator, label);
  const after = storedCounts(emulator);
  console.log(
    `\nBefore: ${before.NON_COMPLIANT} non-compliant, ${before.COMPLIANT} compliant. ` +
      `After: ${after.NON_COMPLIANT} non-compliant, ${after.COMPLIANT} compliant, ${after.NOT_APPLICABLE} not applicable.`,
  );
  console.log('What is left needs a person: see the notifications above for the action each one names.\n');

  await fixSources(emulator, sqs, queues, remediate, evaluateSources, topicArn, evaluate);
  console.log('');
  await launchAndFix({ emulator, remediate, evaluate, topicArn, names, sqs, queues });
  sqs.destroy();
  console.log('');
  // Last, so the report shows everything the demo did: nodes, sources and every notification.
  await writeSecurityReport(emulator, topicArn);
}

/** `npm run report` over the demo account, with the notifications as an SQS subscription would have collected them. */
async function writeSecurityReport(emulator: Emulator, topicArn: string): Promise<void> {
  heading('10. The security team\'s view: npm run report -- --account --html FILE --notifications FILE');
  const dir = await mkdtemp(join(tmpdir(), 'eks-imds-guard-demo-'));
  const notifications = join(dir, 'notifications.jsonl');
  await writeFile(notifications, emulator.published(topicArn).map((m) => `${JSON.stringify(snsEnvelope(m))}\n`).join(''));
  const html = join(dir, 'report.html');
  let errors = '';
  const code = await runReport(['--account', '--rule', RULE_NAME, '--html', html, '--notifications', notifications], {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => void (errors += text),
  });
  if (code === 2) throw new Error(`npm run report failed:\n${errors}`);
  console.log(`\nHTML report of this fleet: ${html}`);
}

/** The SNS message as SNS delivers it to an SQS queue or HTTPS endpoint (the envelope). */
function snsEnvelope(message: PublishedMessage) {
  return {
    Type: 'Notification',
    MessageId: message.messageId,
    TopicArn: message.topicArn,
    Subject: message.subject,
    Message: message.message,
    Timestamp: message.at.toISOString(),
    MessageAttributes: Object.fromEntries(Object.entries(message.messageAttributes).map(([k, v]) => [k, { Type: 'String', Value: v.stringValue }])),
  };
}

/**
 * The sources: fixing nodes one by one leaves their launch templates, groups and the account
 * defaults as they were, so replacements come back wrong. The sources rule judges them, the same
 * queue and function repair what may be repaired, and a scale-out then launches right nodes.
 */
async function fixSources(
  emulator: Emulator,
  sqs: SQSClient,
  queues: Awaited<ReturnType<typeof createRemediationQueues>>,
  remediate: (typeof import('../functions/remediate-imds/handler.ts'))['handler'],
  evaluateSources: (typeof import('../functions/evaluate-sources/handler.ts'))['handler'],
  topicArn: string,
  evaluate: (typeof import('../functions/evaluate-imds/handler.ts'))['handler'],
): Promise<void> {
  const sources = seedSourcesFleet(emulator);
  const label = (id: string) => sources.find((m) => m.resourceId === id)?.name ?? id;
  heading(`5. What launches the nodes: AWS Config runs ${SOURCES_RULE_NAME} (groups, launch templates, account IMDS defaults)`);
  emulator.resetCalls();
  const swept = await evaluateSources(scheduledInvocation(emulator, { ruleName: SOURCES_RULE_NAME, ruleParameters: RULE_PARAMETERS }), lambdaContext(emulator, 'eks-imds-guard-evaluate-sources'));
  console.log(`Judged ${swept.swept} sources with ${callSummary(emulator)}.\n`);
  printSources(emulator, label);

  heading('6. Their compliance changes -> the same queue -> remediate-imds (enforce)');
  const published = emulator.published(topicArn).length;
  const events = emulator.drainComplianceEvents().filter((e) => e.detail.configRuleName === SOURCES_RULE_NAME && e.detail.newEvaluationResult.complianceType === 'NON_COMPLIANT');
  await sendEvents(sqs, queues.queueUrl, events);
  const drained = await drainQueue(sqs, queues, remediate, () => lambdaContext(emulator, 'eks-imds-guard-remediate'));
  console.log(`${drained.received} events handled, ${drained.failed} failed.\n`);
  for (const message of emulator.published(topicArn).slice(published)) {
    console.log(`[${message.messageAttributes.outcome?.stringValue ?? '?'}] Subject: ${message.subject ?? ''}`);
    for (const line of notificationHighlights(message.message)) console.log(`    ${line}`);
    console.log('');
  }

  heading(`7. ${SOURCES_RULE_NAME} runs again`);
  await evaluateSources(scheduledInvocation(emulator, { ruleName: SOURCES_RULE_NAME, ruleParameters: RULE_PARAMETERS, at: new Date(Date.now() + 60_000) }), lambdaContext(emulator, 'eks-imds-guard-evaluate-sources'));
  printSources(emulator, label);

  heading('8. A scale-out of the self-managed group launches from the fixed template');
  const group = 'dev-workers';
  const autoscaling = new AutoScalingClient({});
  await autoscaling.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: group, DesiredCapacity: 2 }));
  autoscaling.destroy();
  const launched = emulator.autoscaling.get(group)?.instanceIds.at(-1) ?? '';
  const instance = emulator.getInstance(launched);
  await evaluate(changeInvocation(emulator, { ruleName: RULE_NAME, instanceId: launched }), lambdaContext(emulator, 'eks-imds-guard-evaluate'));
  const verdict = emulator.evaluations(RULE_NAME).find((e) => e.resourceId === launched);
  console.log(
    `New node ${launched} from ${instance?.tags['aws:ec2launchtemplate:id'] ?? '?'} v${instance?.tags['aws:ec2launchtemplate:version'] ?? '?'}: ` +
      `HttpTokens ${instance?.metadataOptions.httpTokens}, hop limit ${instance?.metadataOptions.httpPutResponseHopLimit} -> ${verdict?.complianceType ?? '?'}`,
  );
}

function printSources(emulator: Emulator, label: (id: string) => string): void {
  const rows = emulator
    .evaluations(SOURCES_RULE_NAME)
    .sort((a, b) => label(a.resourceId).localeCompare(label(b.resourceId)))
    .map((e) => [label(e.resourceId), e.complianceType, e.annotation ?? '']);
  console.log(`${formatTable(['SOURCE', 'RESULT', 'ANNOTATION'], rows)}\n`);
}

function seedFleet(emulator: Emulator): Map<string, string> {
  const names = new Map<string, string>();
  for (const { name, spec, imdsV1Calls } of demoFleet()) {
    const id = emulator.addInstance(spec);
    names.set(id, name);
    if (imdsV1Calls > 0) emulator.setImdsV1Calls(id, imdsV1Calls);
  }
  return names;
}

/** The rule's results as AWS Config holds them, by compliance type. */
function storedCounts(emulator: Emulator): Record<'COMPLIANT' | 'NON_COMPLIANT' | 'NOT_APPLICABLE', number> {
  const counts = { COMPLIANT: 0, NON_COMPLIANT: 0, NOT_APPLICABLE: 0 };
  for (const e of emulator.evaluations(RULE_NAME)) if (e.complianceType in counts) counts[e.complianceType as keyof typeof counts]++;
  return counts;
}

function printCompliance(emulator: Emulator, label: (id: string) => string): void {
  const rows = emulator
    .evaluations(RULE_NAME)
    .sort((a, b) => label(a.resourceId).localeCompare(label(b.resourceId)))
    .map((e) => {
      const options = emulator.getInstance(e.resourceId)?.metadataOptions;
      const imds = options ? `${options.httpTokens}/${options.httpPutResponseHopLimit}` : '-';
      return [label(e.resourceId), e.resourceId, imds, e.complianceType, e.annotation ?? ''];
    });
  console.log(formatTable(['NODE', 'INSTANCE', 'TOKENS/HOP', 'RESULT', 'ANNOTATION'], rows));
}

/** The lines an on-call engineer reads first; the full message also has a table and a JSON block. */
function notificationHighlights(message: string): string[] {
  const text = message.split(JSON_BLOCK_MARKER)[0] ?? '';
  const keep = /^(Outcome:|Verification:|IMDSv1 guard:|Action required:|Launch template drift:|  - |  Fix:)/;
  return text.split('\n').filter((line) => keep.test(line));
}

type Remediate = typeof import('../functions/remediate-imds/handler.ts').handler;
type Evaluate = typeof import('../functions/evaluate-imds/handler.ts').handler;

/** The fast path: a node launched at hop limit 1 is fixed from EC2's "running" event, before Config has seen it. */
async function launchAndFix(demo: {
  emulator: Emulator;
  remediate: Remediate;
  evaluate: Evaluate;
  topicArn: string;
  names: Map<string, string>;
  sqs: SQSClient;
  queues: RemediationQueues;
}): Promise<void> {
  const { emulator, remediate, evaluate, topicArn, names, sqs, queues } = demo;
  heading('9. The node group scales out: EC2 launches a node at hop limit 1 -> "EC2 Instance State-change Notification" (running) -> SQS remediation queue -> remediate-imds');
  const running = new Promise<StateChangeEvent>((resolve) => {
    const stop = emulator.onStateChange((event) => {
      if (event.detail.state !== 'running') return;
      stop();
      resolve(event);
    });
  });
  const launched = performance.now();
  const id = emulator.launchInstance(managedNodeGroupNode({ cluster: 'prod', nodegroup: 'al2023-general' }), { bootMs: 300 });
  names.set(id, 'launched: managed node group (hop 1)');
  const event = await running;
  const booted = performance.now();
  const published = emulator.published(topicArn).length;
  await sendEvents(sqs, queues.queueUrl, [event]);
  await drainQueue(sqs, queues, remediate, () => lambdaContext(emulator, 'eks-imds-guard-remediate'));
  const options = emulator.getInstance(id)?.metadataOptions;
  const outcome = emulator.published(topicArn).slice(published)[0]?.messageAttributes.outcome?.stringValue ?? 'nothing published';
  console.log(
    `${id} running ${Math.round(booted - launched)} ms after launch; ${outcome} ${Math.round(performance.now() - booted)} ms after its running event ` +
      `(${options?.state === 'applied' ? 'applied' : 'not applied yet'}): now ${options?.httpTokens}/${options?.httpPutResponseHopLimit}, ${emulator.published(topicArn).length - published} notification:`,
  );
  for (const message of emulator.published(topicArn).slice(published)) {
    console.log(`[${message.messageAttributes.outcome?.stringValue ?? '?'}] Subject: ${message.subject ?? ''}`);
    for (const line of notificationHighlights(message.message)) console.log(`    ${line}`);
  }
  console.log(`\nAWS Config has not recorded ${id} yet (minutes after a launch; up to a day with daily recording). When the rule next runs:`);
  await evaluate(scheduledInvocation(emulator, { ruleName: RULE_NAME, ruleParameters: RULE_PARAMETERS }), lambdaContext(emulator, 'eks-imds-guard-evaluate'));
  const stored = emulator.evaluations(RULE_NAME).find((e) => e.resourceId === id);
  const findings = emulator.drainComplianceEvents().filter((e) => e.detail.resourceId === id && e.detail.newEvaluationResult.complianceType === 'NON_COMPLIANT');
  console.log(`${names.get(id)}: ${stored?.complianceType ?? 'not evaluated'} at its first evaluation; ${findings.length} NON_COMPLIANT finding for it, so the Config path has nothing to do.`);
}

function heading(text: string): void {
  console.log(`${text}\n${'-'.repeat(text.length)}`);
}

function ms(started: number): string {
  return `${Math.round(performance.now() - started)} ms`;
}

function callSummary(emulator: Emulator): string {
  const entries = emulator.calls.entries();
  return entries.length === 0 ? 'no API calls' : entries.map(([op, n]) => `${op} x${n}`).join(', ');
}
