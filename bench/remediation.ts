import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { managedNodeGroupNode, scheduledInvocation, startEmulator, type ComplianceChangeEvent, type Emulator } from '../emulator/index.ts';
import { REPO_ROOT } from '../scripts/build.ts';
import { contextSpec, FUNCTION_MEMORY_MB, functionEnv, RULE_NAME, type WorkerRuntime } from './lambda.ts';
import { EC2_BUCKETS, installTokenBuckets } from './token-bucket.ts';
import { ExecutionEnvironment } from './worker-protocol.ts';

export const REMEDIATION_OPS = {
  describe: 'ec2:DescribeInstances',
  modify: 'ec2:ModifyInstanceMetadataOptions',
  tag: 'ec2:CreateTags',
  metric: 'cloudwatch:GetMetricStatistics',
  publish: 'sns:Publish',
} as const;

type Op = keyof typeof REMEDIATION_OPS;

/** `rested`: EC2's bucket is full when the storm starts. `drained`: something else just emptied it. */
export type BucketScenario = 'rested' | 'drained';

export interface RemediationOptions {
  readonly nodes: number;
  readonly latencyMs: number;
  readonly concurrency: number;
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

/** template.yaml's ReservedConcurrentExecutions for RemediateFunction, 5 if it has none. */
export async function remediationConcurrency(): Promise<number> {
  const template = await readFile(join(REPO_ROOT, 'template.yaml'), 'utf8');
  const start = template.indexOf('\n  RemediateFunction:');
  if (start === -1) return 5;
  const rest = template.slice(start + 1);
  const end = rest.slice(1).search(/\n {2}\S/);
  const block = end === -1 ? rest : rest.slice(0, end + 1);
  const match = /^\s+ReservedConcurrentExecutions:\s*(\d+)\s*$/m.exec(block);
  return match?.[1] === undefined ? 5 : Number(match[1]);
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

    const env = functionEnv(emulator, {
      CONFIG_RULE_NAME: RULE_NAME,
      TOPIC_ARN: topicArn,
      REMEDIATION_MODE: 'enforce',
      IMDSV1_GUARD: 'true',
      IMDSV1_LOOKBACK_HOURS: '24',
      RULE_PARAMETERS: '{}',
    });
    const started = await Promise.all(
      Array.from({ length: options.concurrency }, () =>
        ExecutionEnvironment.start({ ...options.runtime, module: options.remediateBundle, env, memoryMb: FUNCTION_MEMORY_MB }),
      ),
    );
    environments.push(...started.map((s) => s.environment));

    const modify = EC2_BUCKETS['ec2:ModifyInstanceMetadataOptions'];
    const bucketAtStart = scenario === 'rested' ? modify.capacity : 0;
    if (options.latencyMs > 0) emulator.faults.set('*', { latencyMs: options.latencyMs });
    emulator.resetCalls();
    installTokenBuckets(emulator, { ...EC2_BUCKETS, 'ec2:ModifyInstanceMetadataOptions': { ...modify, initial: bucketAtStart } });

    // Lambda's async queue in front of the reserved concurrency: each environment takes the next event when it is free.
    const queue = [...events];
    const outcomes: Record<string, number> = {};
    const errorNames: string[] = [];
    const context = contextSpec(emulator, `${RULE_NAME}-remediate`, 120_000);
    const t0 = performance.now();
    await Promise.all(
      environments.map(async (environment) => {
        for (let event = queue.shift(); event !== undefined; event = queue.shift()) {
          const [outcome] = (await environment.invoke([event], context)).outcomes;
          if (outcome?.ok) {
            const name = (outcome.value as { outcome?: string }).outcome ?? '?';
            outcomes[name] = (outcomes[name] ?? 0) + 1;
          } else {
            errorNames.push(outcome?.error.name ?? 'no outcome');
          }
        }
      }),
    );
    const wallMs = performance.now() - t0;

    const perNode = {} as Record<Op, number>;
    const succeededPerNode = {} as Record<Op, number>;
    for (const [op, key] of Object.entries(REMEDIATION_OPS) as [Op, string][]) {
      perNode[op] = emulator.requests.get(key) / options.nodes;
      succeededPerNode[op] = emulator.calls.get(key) / options.nodes;
    }
    const known = new Set<string>(Object.values(REMEDIATION_OPS));
    const unexpected = Object.fromEntries(emulator.requests.entries().filter(([key]) => !known.has(key)));
    const lowerBoundPerNode: Record<Op, number> = {
      // The read that decides, and one read back once the change is applied.
      describe: 2,
      modify: 1,
      // The ledger tag: `unnotified` before the change, `notified` once the report is out.
      tag: 2,
      metric: Math.ceil(options.nodes / TOKENS_OPTIONAL_EVERY) / options.nodes,
      publish: 1,
    };
    return {
      scenario,
      bucketAtStart,
      nodes: options.nodes,
      concurrency: options.concurrency,
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
      wallLowerBoundMs: wallLowerBound(options, lowerBoundPerNode, bucketAtStart, modify.refillPerSecond),
    };
  } finally {
    await Promise.all(environments.map((e) => e.stop()));
    await emulator.close();
  }
}

async function nonCompliantEvents(emulator: Emulator, options: RemediationOptions): Promise<ComplianceChangeEvent[]> {
  const { environment } = await ExecutionEnvironment.start({
    ...options.runtime,
    module: options.ruleBundle,
    env: functionEnv(emulator),
    memoryMb: FUNCTION_MEMORY_MB,
  });
  try {
    const [outcome] = (await environment.invoke([scheduledInvocation(emulator, { ruleName: RULE_NAME })], contextSpec(emulator, `${RULE_NAME}-evaluate`, 300_000))).outcomes;
    if (!outcome?.ok) throw new Error(`the sweep before remediation failed: ${JSON.stringify(outcome)}`);
  } finally {
    await environment.stop();
  }
  return emulator.drainComplianceEvents().filter((e) => e.detail.newEvaluationResult.complianceType === 'NON_COMPLIANT');
}

/**
 * The fastest the queue can drain. Each invocation's calls are sequential, with the first
 * verification wait between the change and the read back; `concurrency` run at once. With a
 * drained bucket the last change cannot happen before the bucket has refilled a token for it.
 */
function wallLowerBound(options: RemediationOptions, perNode: Record<Op, number>, bucketAtStart: number, refillPerSecond: number): number {
  const L = options.latencyMs;
  const callsPerNode = Object.values(perNode).reduce((a, b) => a + b, 0);
  const byConcurrency = Math.ceil(options.nodes / options.concurrency) * (callsPerNode * L + FIRST_VERIFICATION_WAIT_MS);
  const lastToken = (Math.max(0, options.nodes - bucketAtStart) / refillPerSecond) * 1000;
  // After the last change: the wait, the read back and the notification.
  const byRefill = lastToken + FIRST_VERIFICATION_WAIT_MS + 2 * L;
  return Math.max(byConcurrency, byRefill);
}
