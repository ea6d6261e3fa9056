import { startEmulator, scheduledInvocation, syntheticFleet, type Emulator } from '../emulator/index.ts';
import { identifyEksNode, sweepFilters } from '../functions/shared/eks-node.ts';
import { parseRuleParameters } from '../functions/shared/parameters.ts';
import { contextSpec, FUNCTION_MEMORY_MB, functionEnv, RULE_NAME, type WorkerRuntime } from './lambda.ts';
import { median } from './stats.ts';
import { EC2_BUCKETS, installTokenBuckets } from './token-bucket.ts';
import { ExecutionEnvironment, type HeapReport } from './worker-protocol.ts';

export const OPS = {
  describe: 'ec2:DescribeInstances',
  put: 'config:PutEvaluations',
  cleanup: 'config:GetComplianceDetailsByConfigRule',
} as const;

export interface SweepOptions {
  readonly sizes: readonly number[];
  readonly latencyMs: number;
  /** Non-EKS instances added per EKS node (0.2: 10,000 nodes live among 12,000 instances). */
  readonly nonEksRatio: number;
  /** Every k-th EKS node is terminated after the previous sweep (100: 1 %). */
  readonly terminatedEvery: number;
  readonly clusters: number;
  readonly runtime: WorkerRuntime;
  readonly ruleBundle: string;
  readonly naiveBundle: string | undefined;
  /** bench/overlapped-rule.ts, the recommended change, run like the rule; undefined to skip. */
  readonly overlappedBundle: string | undefined;
  /** Also run the rule at latency 0, to show what the emulator and the client cost by themselves. */
  readonly zeroLatencyRun: boolean;
}

/**
 * The fleet of one size, as the measured sweep finds it: Config holds a COMPLIANT or
 * NON_COMPLIANT result from yesterday's sweep for every EKS node, and `terminated` of those
 * nodes have been terminated since (still listed by an unfiltered DescribeInstances, as EC2
 * does for about an hour).
 */
export interface SweepScenario {
  readonly eksNodes: number;
  readonly nonEks: number;
  readonly terminated: number;
  /** EKS nodes the sweep must see: eksNodes - terminated. */
  readonly live: number;
  /** COMPLIANT/NON_COMPLIANT results in Config when the cleanup lists them: every EKS node. */
  readonly previousResults: number;
  /** How many of those are COMPLIANT (the rest NON_COMPLIANT). */
  readonly previousCompliant: number;
}

export interface LowerBounds {
  readonly describe: number;
  readonly put: number;
  readonly cleanup: number;
  readonly total: number;
  /** Calls that cannot overlap: every DescribeInstances page, the last put, every cleanup page, the stale put. */
  readonly criticalPathCalls: number;
}

export interface RunMeasure {
  readonly latencyMs: number;
  /** Every request per operation, throttled ones included. */
  readonly requests: Readonly<Record<string, number>>;
  readonly throttled: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly initMs: number;
  readonly heap: HeapReport | undefined;
  readonly maxRssBytes: number;
  /** RSS once the module is imported, before the event: the runtime and the bundle. */
  readonly rssAfterLoad: number;
  readonly summary: unknown;
  readonly error: string | undefined;
}

/** What the emulator (the parent process) spends building one answer, measured by calling it directly. */
export interface EmulatorCost {
  /** First DescribeInstances page: selects the matching instances of the whole fleet, writes 1,000. */
  readonly describeFirstMs: number;
  /** Median later page: writes 1,000 instances as XML. */
  readonly describeNextMs: number;
  readonly cleanupFirstMs: number;
  readonly cleanupNextMs: number;
}

export interface SweepRow {
  readonly scenario: SweepScenario;
  readonly bounds: LowerBounds;
  readonly rule: RunMeasure;
  readonly ruleAtZero: RunMeasure | undefined;
  readonly naive: RunMeasure | undefined;
  readonly overlapped: RunMeasure | undefined;
  readonly overlappedBounds: LowerBounds;
  readonly emulatorCost: EmulatorCost;
}

export function lowerBounds(scenario: SweepScenario): LowerBounds {
  const stale = scenario.terminated;
  const describe = Math.max(1, Math.ceil(scenario.live / 1000));
  // The rule flushes the sweep's last partial batch before listing (the listing must see this
  // sweep's timestamps), so stale results go in batches of their own.
  const put = Math.ceil(scenario.live / 100) + Math.ceil(stale / 100);
  const cleanup = Math.max(1, Math.ceil(scenario.previousResults / 100));
  const criticalPathCalls = describe + (scenario.live > 0 ? 1 : 0) + cleanup + (stale > 0 ? 1 : 0);
  return { describe, put, cleanup, total: describe + put + cleanup, criticalPathCalls };
}

/**
 * The same sweep with the cleanup listed while the sweep runs (bench/overlapped-rule.ts): one
 * COMPLIANT and one NON_COMPLIANT chain, stale results merged into the last batch. Its critical
 * path is the longest of the three chains plus the last put.
 */
export function overlappedBounds(scenario: SweepScenario): LowerBounds {
  const describe = Math.max(1, Math.ceil(scenario.live / 1000));
  const compliant = Math.max(1, Math.ceil(scenario.previousCompliant / 100));
  const nonCompliant = Math.max(1, Math.ceil((scenario.previousResults - scenario.previousCompliant) / 100));
  const put = Math.ceil((scenario.live + scenario.terminated) / 100);
  const cleanup = compliant + nonCompliant;
  return { describe, put, cleanup, total: describe + put + cleanup, criticalPathCalls: Math.max(describe, compliant, nonCompliant) + 1 };
}

export async function benchmarkSweeps(options: SweepOptions, progress: (line: string) => void): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  for (const size of options.sizes) {
    const emulator = await startEmulator();
    try {
      const fleet = seedFleet(emulator, size, options);
      const scenario = fleet.scenario;
      progress(`sweep N=${size}: ${scenario.eksNodes} EKS nodes (${scenario.terminated} terminated) + ${scenario.nonEks} non-EKS`);

      let ruleAtZero: RunMeasure | undefined;
      if (options.zeroLatencyRun) {
        fleet.reset();
        ruleAtZero = await runSweep(emulator, options.runtime, options.ruleBundle, 0);
        progress(`  rule, latency 0: ${Math.round(ruleAtZero.wallMs)} ms`);
      }
      fleet.reset();
      const rule = await runSweep(emulator, options.runtime, options.ruleBundle, options.latencyMs);
      progress(`  rule, latency ${options.latencyMs} ms: ${Math.round(rule.wallMs)} ms`);
      let naive: RunMeasure | undefined;
      if (options.naiveBundle !== undefined) {
        fleet.reset();
        naive = await runSweep(emulator, options.runtime, options.naiveBundle, options.latencyMs);
        progress(`  naive, latency ${options.latencyMs} ms: ${Math.round(naive.wallMs)} ms`);
      }
      let overlapped: RunMeasure | undefined;
      if (options.overlappedBundle !== undefined) {
        fleet.reset();
        overlapped = await runSweep(emulator, options.runtime, options.overlappedBundle, options.latencyMs);
        progress(`  prototype (overlapped cleanup), latency ${options.latencyMs} ms: ${Math.round(overlapped.wallMs)} ms`);
      }
      // After the runs: the emulator's code is warm, as it was for every page they asked for.
      fleet.reset();
      const emulatorCost = measureEmulatorCost(emulator);
      rows.push({
        scenario,
        bounds: lowerBounds(scenario),
        rule,
        ruleAtZero,
        naive,
        overlapped,
        overlappedBounds: overlappedBounds(scenario),
        emulatorCost,
      });
    } finally {
      await emulator.close();
    }
  }
  return rows;
}

interface SeededFleet {
  readonly scenario: SweepScenario;
  /** Puts yesterday's results back, so every run meets the same Config. */
  reset(): void;
}

function seedFleet(emulator: Emulator, eksNodes: number, options: SweepOptions): SeededFleet {
  const nonEks = Math.round(eksNodes * options.nonEksRatio);
  const specs = syntheticFleet(eksNodes + nonEks, { nonEks, clusters: options.clusters });
  const ids = emulator.addInstances(specs);
  const params = parseRuleParameters(undefined);
  const isNode = (i: number) => {
    const operator = specs[i]?.operator;
    const facts = operator === undefined ? undefined : { managed: operator.managed, principal: operator.principal };
    return identifyEksNode(specs[i]?.tags ?? {}, facts, params.nodeTagKeys) !== undefined;
  };
  const eksIds = ids.filter((_, i) => isNode(i));
  if (eksIds.length !== eksNodes) throw new Error(`fleet has ${eksIds.length} EKS nodes, wanted ${eksNodes}`);
  const previous = eksIds.map((id) => {
    const options = emulator.getInstance(id)?.metadataOptions;
    const compliant = options?.httpTokens === 'required' && options.httpPutResponseHopLimit >= params.minHopLimit;
    return { id, complianceType: compliant ? ('COMPLIANT' as const) : ('NON_COMPLIANT' as const) };
  });
  let terminated = 0;
  for (const [i, id] of eksIds.entries()) {
    if ((i + 1) % options.terminatedEvery !== 0) continue;
    emulator.setInstanceState(id, 'terminated');
    terminated++;
  }
  const reset = () => {
    const yesterday = new Date(Date.now() - 86_400_000);
    for (const { id, complianceType } of previous) {
      emulator.config.seedEvaluation(RULE_NAME, {
        resourceType: 'AWS::EC2::Instance',
        resourceId: id,
        complianceType,
        annotation: 'previous sweep',
        orderingTimestamp: yesterday,
        resultRecordedTime: yesterday,
        configRuleInvokedTime: yesterday,
      });
    }
    emulator.drainComplianceEvents();
  };
  reset();
  return {
    scenario: {
      eksNodes,
      nonEks,
      terminated,
      live: eksNodes - terminated,
      previousResults: eksNodes,
      previousCompliant: previous.filter((p) => p.complianceType === 'COMPLIANT').length,
    },
    reset,
  };
}

async function runSweep(emulator: Emulator, runtime: WorkerRuntime, bundle: string, latencyMs: number): Promise<RunMeasure> {
  emulator.faults.clear();
  if (latencyMs > 0) emulator.faults.set('*', { latencyMs });
  const uninstall = installTokenBuckets(emulator, { [OPS.describe]: EC2_BUCKETS[OPS.describe] });
  const { environment, initMs, rssAfterLoad } = await ExecutionEnvironment.start({
    ...runtime,
    module: bundle,
    env: functionEnv(emulator),
    memoryMb: FUNCTION_MEMORY_MB,
  });
  try {
    emulator.resetCalls();
    const event = scheduledInvocation(emulator, { ruleName: RULE_NAME });
    const reply = await environment.invoke([event], contextSpec(emulator, `${RULE_NAME}-evaluate`, 300_000), true);
    const outcome = reply.outcomes[0];
    if (outcome === undefined) throw new Error('the worker answered no outcome');
    return {
      latencyMs,
      requests: emulator.requests.toJSON(),
      throttled: emulator.throttled.total(),
      wallMs: outcome.wallMs,
      cpuMs: outcome.cpuUs / 1000,
      initMs,
      heap: reply.heap,
      maxRssBytes: reply.maxRssBytes,
      rssAfterLoad,
      summary: outcome.ok ? outcome.value : undefined,
      error: outcome.ok ? undefined : `${outcome.error.name}: ${outcome.error.message}`,
    };
  } finally {
    await environment.stop();
    uninstall();
    emulator.faults.clear();
    emulator.drainComplianceEvents();
  }
}

/** Builds the answers the sweep asks for by calling the emulator's services directly (no HTTP). */
function measureEmulatorCost(emulator: Emulator): EmulatorCost {
  const form = new URLSearchParams({ Action: 'DescribeInstances', Version: '2016-11-15', MaxResults: '1000', IncludeManagedResources: 'true' });
  for (const [i, filter] of sweepFilters(parseRuleParameters(undefined)).entries()) {
    form.set(`Filter.${i + 1}.Name`, filter.Name ?? '');
    for (const [j, value] of (filter.Values ?? []).entries()) form.set(`Filter.${i + 1}.Value.${j + 1}`, value);
  }
  const describe = emulator.ec2.operations['DescribeInstances'];
  if (describe === undefined) throw new Error('the emulator has no DescribeInstances');
  const describeTimes: number[] = [];
  for (let token: string | undefined; ; ) {
    if (token !== undefined) form.set('NextToken', token);
    const started = performance.now();
    const xml = describe(form, 'bench');
    describeTimes.push(performance.now() - started);
    token = /<nextToken>([^<]+)<\/nextToken>/.exec(xml)?.[1];
    if (token === undefined) break;
  }

  const cleanupTimes: number[] = [];
  for (let token: string | undefined; ; ) {
    const started = performance.now();
    const page = emulator.config.getComplianceDetailsByConfigRule({
      ConfigRuleName: RULE_NAME,
      ComplianceTypes: ['COMPLIANT', 'NON_COMPLIANT'],
      Limit: 100,
      ...(token === undefined ? {} : { NextToken: token }),
    });
    // The HTTP layer serializes the answer: part of the emulator's cost.
    JSON.stringify(page);
    cleanupTimes.push(performance.now() - started);
    token = typeof page['NextToken'] === 'string' ? page['NextToken'] : undefined;
    if (token === undefined) break;
  }
  return {
    describeFirstMs: describeTimes[0] ?? Number.NaN,
    describeNextMs: median(describeTimes.slice(1)),
    cleanupFirstMs: cleanupTimes[0] ?? Number.NaN,
    cleanupNextMs: median(cleanupTimes.slice(1)),
  };
}
