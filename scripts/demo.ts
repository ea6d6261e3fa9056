/**
 * `npm run demo`: the whole flow on a laptop, no AWS account. A loopback emulator of EC2,
 * AWS Config, SNS, CloudWatch and SQS holds a realistic EKS fleet; the real Lambda handlers reach it
 * only through the SDK's standard AWS_ENDPOINT_URL, exactly as they would reach AWS.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { formatTable } from '../cli/table.ts';
import { createRemediationQueues, drainQueue, sendEvents } from '../emulator/event-source.ts';
import { demoFleet } from '../emulator/demo-fleet.ts';
import { JSON_BLOCK_MARKER } from '../functions/remediate-imds/notification.ts';
import { describeCoverage } from '../functions/shared/config-rule/recorder.ts';
import { startEmulator, type Emulator } from '../emulator/index.ts';
import { lambdaContext, scheduledInvocation } from '../emulator/invocations.ts';

const RULE_NAME = 'eks-imds-guard';
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
    REMEDIATION_QUEUE_URL: queues.queueUrl,
    DEAD_LETTER_QUEUE_URL: queues.deadLetterQueueUrl,
    POWERTOOLS_LOG_LEVEL: verbose ? 'DEBUG' : 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  const { handler: evaluate } = await import('../functions/evaluate-imds/handler.ts');
  const { handler: remediate } = await import('../functions/remediate-imds/handler.ts');

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
  sqs.destroy();
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
  console.log('What is left needs a person: see the notifications above for the action each one names.');
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
