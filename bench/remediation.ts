import { managedNodeGroupNode, scheduledInvocation, sqsInvocation, startEmulator, type ComplianceChangeEvent, type Emulator } from '../emulator/index.ts';
import { EC2_BUCKETS, injectLatencyAndBuckets } from './ec2-buckets.ts';
import { contextSpec, functionEnv, parameterDefault, remediationEnv, RULE_NAME, type DeployedFunction, type WorkerRuntime } from './lambda.ts';
import { ExecutionEnvironment } from './worker-protocol.ts';

export const REMEDIATION_OPS = {
  describe: 'ec2:DescribeInstances',
  modify: 'ec2:ModifyInstanceMetadataOptions',
  tag: 'ec2:CreateTags',
  metric: 'cloudwatch:GetMetricStatistics',
  publish: 'sns:Publish',
  event: 'events:PutEvents',
} as const;

type Op = keyof typeof REMEDIATION_OPS;

/** `rested`: EC2's bucket is full when the storm starts. `drained`: something else just emptied it. */
export type BucketScenario = 'rested' | 'drained';

export interface RemediationOptions {
  readonly nodes: number;
  readonly latencyMs: number;
  /** template.yaml's RemediateFunction: memory and timeout (the concurrency is RemediationMaxConcurrency's default). */
  readonly remediate: DeployedFunction;
  /** template.yaml's EvaluateFunction, for the sweep that raises the events. */
  readonly evaluate: DeployedFunction;
  readonly scenarios: readonly BucketScenario[];
  readonly runtime: WorkerRuntime;
  readonly ruleBundle: string;
  readonly remediateBundle: string;
}

export interface RemediationRun {
  readonly scenario: BucketScenario;
  readonly bucketAtStart: number;
  readonly nodes: number;
  readonly concurrency: number;
  readonly latencyMs: number;
  /** Requests per node, throttled ones included. */
  readonly perNode: Readonly<Record<Op, number>>;
  /** Requests EC2, CloudWatch and SNS answered with success, per node. */
  readonly succeededPerNode: Readonly<Record<Op, number>>;
  readonly lowerBoundPerNode: Readonly<Record<Op, number>>;
  /** Requests to operations this benchmark does not expect of the remediation, per operation. */
  readonly unexpected: Readonly<Record<string, number>>;
  /** Throttles EC2 answered, all absorbed by the SDK's retries unless errorsEscaping says otherwise. */
  readonly throttled: number;
  readonly errorsEscaping: number;
  readonly errorNames: readonly string[];
  readonly outcomes: Readonly<Record<string, number>>;
  readonly wallMs: number;
  readonly wallLowerBoundMs: number;
}

/** The first wait before the remediation reads the instance back (DEFAULT_VERIFICATION_TIMING). */
const FIRST_VERIFICATION_WAIT_MS = 250;
/** One node in this many has tokens optional (the IMDSv1 guard reads CloudWatch); the rest have hop limit 1. */
const TOKENS_OPTIONAL_EVERY = 5;

/** Execution environments at once: the event source mapping's MaximumConcurrency (RemediationMaxConcurrency's default). */
export function remediationConcurrency(templateText?: string): number {
  const concurrency = parameterDefault('RemediationMaxConcurrency', templateText);
  if (concurrency < 1) throw new Error(`template.yaml: RemediationMaxConcurrency defaults to ${concurrency}; the benchmark needs 1 or more`);
  return concurrency;
}

export async function benchmarkRemediation(options: RemediationOptions): Promise<RemediationRun[]> {
  const runs: RemediationRun[] = [];
  for (const scenario of options.scenarios) runs.push(await runScenario(options, scenario));
  return runs;
}

async function runScenario(options: RemediationOptions, scenario: BucketScenario): Promise<RemediationRun> {
  const emulator = await startEmulator();
  const environments: ExecutionEnvironment[] = [];
  try {
    const topicArn = emulator.createTopic('eks-imds-guard-notifications');
    for (let i = 0; i < options.nodes; i++) {
      emulator.addInstance(
        managedNodeGroupNode({
          cluster: `prod-${i % 4}`,
          nodegroup: `al2023-${i % 5}`,
          ...(i % TOKENS_OPTIONAL_EVERY === 0 ? { httpTokens: 'optional' as const } : {}),
        }),
      );
    }
    const events = await nonCompliantEvents(emulator, options);
    if (events.length !== options.nodes) throw new Error(`the sweep raised ${events.length} NON_COMPLIANT events, wanted ${options.nodes}`);

    const { memoryMb, timeoutMs } = options.remediate;
    const concurrency = remediationConcurrency();
    // The queues exist for the function's configuration; delivery itself is not modelled (below).
    const { env, queueArn } = remediationEnv(emulator, memoryMb, topicArn);
    const started = await Promise.all(
      Array.from({ length: concurrency }, () => ExecutionEnvironment.start({ ...options.runtime, module: options.remediateBundle, env, memoryMb })),
    );
    environments.push(...started.map((s) => s.environment));

    const modify = EC2_BUCKETS['ec2:ModifyInstanceMetadataOptions'];
    const bucketAtStart = scenario === 'rested' ? modify.capacity : 0;
    emulator.resetCalls();
    // CreateTags gets the latency and no bucket: see EC2_BUCKETS.
    injectLatencyAndBuckets(emulator, options.latencyMs, { ...EC2_BUCKETS, [REMEDIATION_OPS.modify]: { ...modify, initial: bucketAtStart } });

    // The SQS event source mapping in front of MaximumConcurrency, one message a batch: each
    // environment takes the next event when it is free. The SQS calls themselves are not made:
    // the benchmark counts what remediation costs EC2, CloudWatch and SNS.
    const queue = [...events];
    const errorNames: string[] = [];
    const context = contextSpec(emulator, `${RULE_NAME}-remediate`, memoryMb, timeoutMs);
    const t0 = performance.now();
    await Promise.all(
      environments.map(async (environment) => {
        for (let event = queue.shift(); event !== undefined; event = queue.shift()) {
          const message = { MessageId: event.id, Body: JSON.stringify(event) };
          const [outcome] = (await environment.invoke([sqsInvocation([message], queueArn)], context)).outcomes;
          if (!outcome?.ok) errorNames.push(outcome?.error.name ?? 'no outcome');
          else if ((outcome.value as { batchItemFailures?: unknown[] }).batchItemFailures?.length) errorNames.push('batch item failure');
        }
      }),
    );
    const wallMs = performance.now() - t0;
    // One notification per handled event, its outcome in a message attribute.
    const outcomes: Record<string, number> = {};
    for (const message of emulator.published(topicArn)) {
      const name = message.messageAttributes['outcome']?.stringValue ?? '?';
      outcomes[name] = (outcomes[name] ?? 0) + 1;
    }

    const perNode = {} as Record<Op, number>;
    const succeededPerNode = {} as Record<Op, number>;
    for (const [op, key] of Object.entries(REMEDIATION_OPS) as [Op, string][]) {
      perNode[op] = emulator.requests.get(key) / options.nodes;
      succeededPerNode[op] = emulator.calls.get(key) / options.nodes;
    }
    const known = new Set<string>(Object.values(REMEDIATION_OPS));
    const unexpected = Object.fromEntries(emulator.requests.entries().filter(([key]) => !known.has(key)));
    const lowerBoundPerNode: Record<Op, number> = {
      // The read that decides, the read that confirms the ledger claim, and one read back once the change is applied.
      describe: 3,
      modify: 1,
      // The ledger tag: `unnotified` before the change, `notified` once the report is out.
      tag: 2,
      metric: Math.ceil(options.nodes / TOKENS_OPTIONAL_EVERY) / options.nodes,
      publish: 1,
      // The same report on the default event bus.
      event: 1,
    };
    return {
      scenario,
      bucketAtStart,
      nodes: options.nodes,
      concurrency,
      latencyMs: options.latencyMs,
      perNode,
      succeededPerNode,
      lowerBoundPerNode,
      unexpected,
      throttled: emulator.throttled.total(),
      errorsEscaping: errorNames.length,
      errorNames,
      outcomes,
      wallMs,
      wallLowerBoundMs: wallLowerBound(options, lowerBoundPerNode, concurrency, bucketAtStart, modify.refillPerSecond),
    };
  } finally {
    await Promise.all(environments.map((e) => e.stop()));
    await emulator.close();
  }
}

async function nonCompliantEvents(emulator: Emulator, options: RemediationOptions): Promise<ComplianceChangeEvent[]> {
  const { memoryMb, timeoutMs } = options.evaluate;
  const { environment } = await ExecutionEnvironment.start({
    ...options.runtime,
    module: options.ruleBundle,
    env: functionEnv(emulator, memoryMb),
    memoryMb,
  });
  try {
    const context = contextSpec(emulator, `${RULE_NAME}-evaluate`, memoryMb, timeoutMs);
    const [outcome] = (await environment.invoke([scheduledInvocation(emulator, { ruleName: RULE_NAME })], context)).outcomes;
    if (!outcome?.ok) throw new Error(`the sweep before remediation failed: ${JSON.stringify(outcome)}`);
  } finally {
    await environment.stop();
  }
  return emulator.drainComplianceEvents().filter((e) => e.detail.newEvaluationResult.complianceType === 'NON_COMPLIANT');
}

/**
 * The fastest the queue can drain. An invocation's calls are sequential, with the first
 * verification wait between the change and the read back, so it takes at least its calls × L
 * plus that wait; `concurrency` run at once, so the whole takes at least the sum of the
 * invocations over the concurrency, and at least ⌈nodes / concurrency⌉ of the shortest in a row.
 * With a drained bucket the last change cannot happen before the bucket has refilled a token
 * for it, and the wait, the read back, the notification and the ledger tag follow it.
 */
function wallLowerBound(
  options: RemediationOptions,
  perNode: Readonly<Record<Op, number>>,
  concurrency: number,
  bucketAtStart: number,
  refillPerSecond: number,
): number {
  const L = options.latencyMs;
  const callsPerNode = Object.values(perNode).reduce((a, b) => a + b, 0);
  // Only the guarded nodes read CloudWatch: the others' invocations are one call shorter.
  const shortest = (callsPerNode - perNode.metric) * L + FIRST_VERIFICATION_WAIT_MS;
  const totalWork = options.nodes * (callsPerNode * L + FIRST_VERIFICATION_WAIT_MS);
  const byConcurrency = Math.max(totalWork / concurrency, Math.ceil(options.nodes / concurrency) * shortest);
  const lastToken = refillPerSecond > 0 ? (Math.max(0, options.nodes - bucketAtStart) / refillPerSecond) * 1000 : Number.POSITIVE_INFINITY;
  // The emulator takes the token once the latency has passed; then the wait, the read back, the notification and the ledger tag.
  const byRefill = lastToken + FIRST_VERIFICATION_WAIT_MS + 3 * L;
  return Math.max(byConcurrency, byRefill);
}
