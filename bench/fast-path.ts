import { loadavg } from 'node:os';
/**
 * `npm run bench:fast-path`: the EC2 state-change path measured on the loopback emulator with
 * the built remediation bundle in Lambda-sized execution environments. Prints a table and
 * rewrites its section of docs/benchmarks.md (`npm run bench` keeps that section).
 *
 * - one launch at a time: event -> fixed, verified and reported, with EC2's apply delay apart;
 * - a burst of non-compliant launches under EC2's token buckets (bench/ec2-buckets.ts);
 * - a burst of compliant launches: what they cost when there is nothing to do.
 */
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { SQSBatchResponse } from 'aws-lambda';
import { managedNodeGroupNode, sqsInvocation, startEmulator, type Emulator, type InstanceSpec, type StateChangeEvent } from '../emulator/index.ts';
import { REPO_ROOT } from '../scripts/build.ts';
import { buildForBenchmark } from './bundles.ts';
import { EC2_BUCKETS, injectLatencyAndBuckets } from './ec2-buckets.ts';
import { contextSpec, deployedFunction, remediationEnv, RULE_NAME, type WorkerRuntime } from './lambda.ts';
import { describeMachine } from './machine.ts';
import { quantile, sum } from './stats.ts';
import { ExecutionEnvironment } from './worker-protocol.ts';

const MODIFY = 'ec2:ModifyInstanceMetadataOptions';
const DESCRIBE = 'ec2:DescribeInstances';
const PUBLISH = 'sns:Publish';

export const SECTION_START = '<!-- fast-path:start -->';
export const SECTION_END = '<!-- fast-path:end -->';

interface Options {
  readonly launches: number;
  readonly burst: number;
  readonly latencyMs: number;
  readonly applyDelayMs: number;
  /** Execution environments for the bursts: the event source mapping's MaximumConcurrency. */
  readonly concurrency: number;
}

interface Handled {
  readonly eventAt: number;
  readonly doneAt: number;
  /** The handler threw, or reported the message as a batch item failure. */
  readonly error: string | undefined;
  readonly wallMs: number;
}

interface Sequential {
  readonly handled: readonly Handled[];
  readonly notifications: number;
  /** Event -> ModifyInstanceMetadataOptions accepted, per launch. */
  readonly toModifyMs: readonly number[];
}

interface Burst {
  readonly handled: readonly Handled[];
  /** SNS messages by their `outcome` attribute. */
  readonly notifications: Readonly<Record<string, number>>;
  readonly drainMs: number;
  readonly requests: Readonly<Record<string, number>>;
  readonly throttled: number;
  /** Modify calls accepted per second, from the first to the last. */
  readonly modifyPerSecond: number;
  readonly fixed: number;
}

function parseOptions(argv: string[]): { options: Options; write: boolean } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      launches: { type: 'string', default: '60' },
      burst: { type: 'string', default: '1000' },
      latency: { type: 'string', default: '25' },
      'apply-delay': { type: 'string', default: '1000' },
      concurrency: { type: 'string', default: '12' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const whole = (flag: string, text: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${flag}: "${text}" is not a whole number`);
    return n;
  };
  return {
    options: {
      launches: whole('launches', values.launches),
      burst: whole('burst', values.burst),
      latencyMs: whole('latency', values.latency),
      applyDelayMs: whole('apply-delay', values['apply-delay']),
      concurrency: Math.max(1, whole('concurrency', values.concurrency)),
    },
    write: !values['no-write'],
  };
}

/** An emulator with the buckets and latency, a topic, and `count` execution environments of the remediation. */
async function setUp(options: Options, runtime: WorkerRuntime, bundle: string, count: number) {
  const emulator = await startEmulator({ applyDelayMs: options.applyDelayMs });
  const topicArn = emulator.createTopic('eks-imds-guard-notifications');
  const remediate = deployedFunction('RemediateFunction');
  const { env, queueArn } = remediationEnv(emulator, remediate.memoryMb, topicArn);
  const environments = (
    await Promise.all(Array.from({ length: count }, () => ExecutionEnvironment.start({ ...runtime, module: bundle, env, memoryMb: remediate.memoryMb })))
  ).map((started) => started.environment);
  injectLatencyAndBuckets(emulator, options.latencyMs, EC2_BUCKETS);
  emulator.resetCalls();
  const context = contextSpec(emulator, `${RULE_NAME}-remediate`, remediate.memoryMb, remediate.timeoutMs);
  // The event source mapping's batch of one, as EventBridge's SQS target would have queued the
  // event. The SQS calls themselves are not made: delivery time is not what this measures.
  const invoke = async (event: StateChangeEvent, eventAt: number): Promise<Handled> => {
    const environment = environments.pop();
    if (environment === undefined) throw new Error('no free execution environment');
    try {
      const batch = sqsInvocation([{ MessageId: event.id, Body: JSON.stringify(event) }], queueArn);
      const [outcome] = (await environment.invoke([batch], context)).outcomes;
      const doneAt = performance.now();
      if (!outcome?.ok) return { eventAt, doneAt, error: outcome?.error.name ?? 'no outcome', wallMs: outcome?.wallMs ?? 0 };
      const failed = (outcome.value as SQSBatchResponse).batchItemFailures.length > 0;
      return { eventAt, doneAt, error: failed ? 'batch item failure' : undefined, wallMs: outcome.wallMs };
    } finally {
      environments.push(environment);
    }
  };
  const tearDown = async () => {
    await Promise.all(environments.map((e) => e.stop()));
    await emulator.close();
  };
  return { emulator, invoke, tearDown };
}

/** The running event of the next launch, with the moment it was made (performance.now()). */
function nextRunning(emulator: Emulator): Promise<{ event: StateChangeEvent; at: number }> {
  return new Promise((resolve) => {
    const stop = emulator.onStateChange((event) => {
      if (event.detail.state !== 'running') return;
      stop();
      resolve({ event, at: performance.now() });
    });
  });
}

const hopOne = (i: number): InstanceSpec => managedNodeGroupNode({ cluster: `prod-${i % 4}`, nodegroup: `al2023-${i % 5}` });

async function oneAtATime(options: Options, runtime: WorkerRuntime, bundle: string): Promise<Sequential> {
  const { emulator, invoke, tearDown } = await setUp(options, runtime, bundle, 1);
  try {
    const handled: Handled[] = [];
    const toModifyMs: number[] = [];
    for (let i = 0; i < options.launches; i++) {
      const running = nextRunning(emulator);
      const id = emulator.launchInstance(hopOne(i));
      const { event, at } = await running;
      const wallClockAtEvent = Date.now();
      handled.push(await invoke(event, at));
      const change = emulator.metadataChanges(id)[0];
      if (change !== undefined) toModifyMs.push(change.at.getTime() - wallClockAtEvent);
    }
    return { handled, toModifyMs, notifications: emulator.published().length };
  } finally {
    await tearDown();
  }
}

async function burst(options: Options, runtime: WorkerRuntime, bundle: string, spec: (i: number) => InstanceSpec): Promise<Burst> {
  const { emulator, invoke, tearDown } = await setUp(options, runtime, bundle, options.concurrency);
  try {
    const queue: { event: StateChangeEvent; at: number }[] = [];
    const stop = emulator.onStateChange((event) => {
      if (event.detail.state === 'running') queue.push({ event, at: performance.now() });
    });
    const ids = Array.from({ length: options.burst }, (_, i) => emulator.launchInstance(spec(i)));
    stop();
    const handled: Handled[] = [];
    const t0 = performance.now();
    // The event source mapping: each environment takes the next message when it is free.
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        for (let next = queue.shift(); next !== undefined; next = queue.shift()) handled.push(await invoke(next.event, next.at));
      }),
    );
    const drainMs = performance.now() - t0;
    const modifyTimes = emulator.metadataChanges().map((change) => change.at.getTime());
    const spanS = modifyTimes.length > 1 ? (Math.max(...modifyTimes) - Math.min(...modifyTimes)) / 1000 : Number.NaN;
    const fixed = ids.filter((id) => {
      const options_ = emulator.getInstance(id)?.metadataOptions;
      return options_?.httpTokens === 'required' && options_.httpPutResponseHopLimit >= 2;
    }).length;
    const notifications: Record<string, number> = {};
    for (const message of emulator.published()) {
      const outcome = message.messageAttributes.outcome?.stringValue ?? '?';
      notifications[outcome] = (notifications[outcome] ?? 0) + 1;
    }
    return {
      handled,
      notifications,
      drainMs,
      requests: Object.fromEntries(emulator.requests.entries()),
      throttled: emulator.throttled.total(),
      modifyPerSecond: (modifyTimes.length - 1) / spanS,
      fixed,
    };
  } finally {
    await tearDown();
  }
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const p = (values: readonly number[], q: number) => quantile(values, q);
const tally = (counts: Readonly<Record<string, number>>) =>
  Object.keys(counts).length === 0 ? 'none' : Object.entries(counts).map(([key, n]) => `${key} ×${n}`).join(', ');

function render(options: Options, sequential: Sequential, hot: Burst, cold: Burst, context: { command: string; uptime: string; startedAt: Date }): string {
  const machine = describeMachine(loadavg()) // the load at the start is in context.uptime;
  const total = sequential.handled.map((h) => h.doneAt - h.eventAt);
  const beyond = total.map((ms) => ms - options.applyDelayMs);
  const failed = sequential.handled.filter((h) => h.error !== undefined).length;
  const hotTotal = hot.handled.map((h) => h.doneAt - h.eventAt);
  const hotErrors = hot.handled.filter((h) => h.error !== undefined).length;
  const modify = EC2_BUCKETS[MODIFY];
  const coldWall = cold.handled.map((h) => h.wallMs);
  const mark = (ok: boolean) => (ok ? '✅' : '❌');
  const lines = [
    SECTION_START,
    '## Fast path: EC2 launch -> fixed (issue 12)',
    '',
    `Run ${context.startedAt.toISOString()} with \`${context.command}\` on ${machine.cpu} (${machine.cores} cores), Node ${machine.node}.`,
    `Load when it started (\`uptime\`): ${context.uptime}. The machine's 2 cores were shared with other work: the times below include that contention.`,
    '',
    `Setup: the built remediate-imds bundle in execution environments with template.yaml's memory, against the loopback emulator; ${options.latencyMs} ms injected on every call;`,
    `EC2's token buckets (DescribeInstances ${EC2_BUCKETS[DESCRIBE].capacity}/${EC2_BUCKETS[DESCRIBE].refillPerSecond} per s, ModifyInstanceMetadataOptions ${modify.capacity}/${modify.refillPerSecond} per s);`,
    `EC2's apply delay (a metadata change stays \`pending\` this long) set to ${options.applyDelayMs} ms: an assumption of this benchmark, not a measurement of EC2.`,
    'Each invocation gets the "running" event the emulator made at the launch; EventBridge -> SQS -> Lambda delivery time is not in these numbers.',
    '',
    `### One launch at a time (${options.launches} launches, one execution environment)`,
    '',
    '| | p50 | p95 | max |',
    '|---|---|---|---|',
    `| event -> ModifyInstanceMetadataOptions accepted | ${s(p(sequential.toModifyMs, 0.5))} | ${s(p(sequential.toModifyMs, 0.95))} | ${s(Math.max(...sequential.toModifyMs))} |`,
    `| EC2's apply delay (set) | ${s(options.applyDelayMs)} | ${s(options.applyDelayMs)} | ${s(options.applyDelayMs)} |`,
    `| event -> fixed, verified and reported (invocation end) | ${s(p(total, 0.5))} | ${s(p(total, 0.95))} | ${s(Math.max(...total))} |`,
    `| beyond EC2's apply delay | ${s(p(beyond, 0.5))} | ${s(p(beyond, 0.95))} | ${s(Math.max(...beyond))} |`,
    '',
    `${sequential.notifications} notifications (one per launch), ${failed} failed messages. Target p95 beyond the apply delay ≤ 5 s: ${s(p(beyond, 0.95))} ${mark(p(beyond, 0.95) <= 5_000)}.`,
    'The end of the invocation comes after the verifying read, the notification and the ledger mark: an upper bound on the moment the fix was verified.',
    "Most of the time beyond the apply delay is the verification's wait: each environment learns how long changes take to apply and reads then; a read too early doubles the wait.",
    '',
    `### Burst: ${options.burst} non-compliant launches at once, ${options.concurrency} execution environments`,
    '',
    '| every node fixed | errors escaping | drain | event -> done p50 / p95 | Modify calls/s (target ≥ 0.9 × refill) | throttled (absorbed) | calls |',
    '|---|---|---|---|---|---|---|',
    `| ${hot.fixed} / ${options.burst} ${mark(hot.fixed === options.burst)} | ${hotErrors} ${mark(hotErrors === 0)} | ${s(hot.drainMs)} | ${s(p(hotTotal, 0.5))} / ${s(p(hotTotal, 0.95))} | ${hot.modifyPerSecond.toFixed(2)} (${(hot.modifyPerSecond / modify.refillPerSecond).toFixed(2)} × ${modify.refillPerSecond}) ${mark(hot.modifyPerSecond >= 0.9 * modify.refillPerSecond)} | ${hot.throttled} | ${callList(hot.requests)} |`,
    '',
    `Notifications by outcome: ${tally(hot.notifications)}. DescribeInstances ${((hot.requests[DESCRIBE] ?? 0) / options.burst).toFixed(2)} per node. The bucket starts full (${modify.capacity} tokens): the first ${modify.capacity} changes go at the speed of the environments, the rest at the refill (so the rate over the whole burst can pass the refill). Drain lower bound: (${options.burst} - ${modify.capacity}) / ${modify.refillPerSecond} = ${s(((options.burst - modify.capacity) / modify.refillPerSecond) * 1000)}; the drain took ${(hot.drainMs / (((options.burst - modify.capacity) / modify.refillPerSecond) * 1000)).toFixed(2)} × that.`,
    '',
    `### Burst: ${options.burst} compliant launches at once, ${options.concurrency} execution environments`,
    '',
    '| Modify calls | Publish calls | Lambda time, total | per invocation p50 / p95 | calls |',
    '|---|---|---|---|---|',
    `| ${cold.requests[MODIFY] ?? 0} ${mark((cold.requests[MODIFY] ?? 0) === 0)} | ${cold.requests[PUBLISH] ?? 0} ${mark((cold.requests[PUBLISH] ?? 0) === 0)} | ${s(sum(coldWall))} | ${Math.round(p(coldWall, 0.5))} ms / ${Math.round(p(coldWall, 0.95))} ms | ${callList(cold.requests)} |`,
    '',
    `Notifications: ${tally(cold.notifications)}. Each compliant launch needs one DescribeInstances and nothing else; ${(cold.requests[DESCRIBE] ?? 0) - options.burst} more requests were throttled and retried. The Lambda time is mostly the SDK's backoff while ${options.burst} launches at once drain DescribeInstances' bucket (${EC2_BUCKETS[DESCRIBE].capacity} + ${EC2_BUCKETS[DESCRIBE].refillPerSecond}/s).`,
    SECTION_END,
  ];
  return `${lines.join('\n')}\n`;
}

function callList(requests: Readonly<Record<string, number>>): string {
  return Object.entries(requests)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([op, n]) => `${op.split(':')[1]} ${n}`)
    .join(', ');
}

/** Replaces (or appends) this benchmark's section of docs/benchmarks.md. */
export function withSection(document: string, section: string): string {
  const start = document.indexOf(SECTION_START);
  const end = document.indexOf(SECTION_END);
  if (start === -1 || end === -1) return `${document.trimEnd()}\n\n${section}`;
  return `${document.slice(0, start)}${section.trimEnd()}${document.slice(end + SECTION_END.length)}`;
}

if (import.meta.main) {
  const { options, write } = parseOptions(process.argv.slice(2));
  const command = ['npm run bench:fast-path', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
  const uptime = execFileSync('uptime', { encoding: 'utf8' }).trim();
  const startedAt = new Date();
  console.error(`uptime: ${uptime}`);
  const built = await buildForBenchmark();
  try {
    const bundle = built.functions.find((f) => f.name === 'remediate-imds')?.file;
    if (bundle === undefined) throw new Error('scripts/build.ts built no remediate-imds');
    const runtime: WorkerRuntime = { worker: built.worker, nodeArgs: [] };
    console.error(`one launch at a time: ${options.launches}`);
    const sequential = await oneAtATime(options, runtime, bundle);
    console.error(`burst: ${options.burst} non-compliant launches, ${options.concurrency} at a time`);
    const hot = await burst(options, runtime, bundle, hopOne);
    console.error(`burst: ${options.burst} compliant launches`);
    const cold = await burst(options, runtime, bundle, (i) => managedNodeGroupNode({ cluster: `prod-${i % 4}`, hopLimit: 2 }));
    const section = render(options, sequential, hot, cold, { command, uptime, startedAt });
    console.log(section);
    if (write) {
      const file = join(REPO_ROOT, 'docs', 'benchmarks.md');
      await writeFile(file, withSection(await readFile(file, 'utf8'), section));
      console.error(`written to ${file}`);
    }
  } finally {
    await built.remove();
  }
}
