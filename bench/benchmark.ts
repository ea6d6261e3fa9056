import { loadavg } from 'node:os';
import { EKS_NODE_DETAIL, type NodeDetail } from '../emulator/index.ts';
import { buildForBenchmark, measureBundles, type BundleRow } from './bundles.ts';
import { benchmarkChanges, type ChangeResult } from './change.ts';
import { deployedFunction, QUIET_TELEMETRY, type DeployedFunction } from './lambda.ts';
import { describeMachine, type Machine } from './machine.ts';
import { benchmarkRemediation, remediationConcurrency, type BucketScenario, type RemediationRun } from './remediation.ts';
import { benchmarkSweeps, type SweepRow } from './sweep.ts';

export interface BenchOptions {
  /** EKS nodes per sweep; the non-EKS instances come on top. */
  readonly sizes: readonly number[];
  /** Injected into every emulated call. */
  readonly latencyMs: number;
  readonly nonEksRatio: number;
  readonly terminatedEvery: number;
  readonly clusters: number;
  /** Network interfaces, secondary IPs and volumes of every instance; undefined for lean entries. */
  readonly detail: NodeDetail | undefined;
  /** The zero-latency and naive runs only up to this fleet size: above it they would add minutes and say nothing new. */
  readonly extrasUpTo: number;
  readonly naive: boolean;
  readonly zeroLatencyRun: boolean;
  readonly changeEvents: number;
  readonly remediationNodes: number;
  readonly remediationScenarios: readonly BucketScenario[];
  readonly coldStartRuns: number;
  /** Fresh processes importing the unbundled source, for contrast; 0 to skip. */
  readonly sourceColdStartRuns: number;
  /** Extra Node flags for every execution environment, e.g. `--cpu-prof`. */
  readonly workerArgs: readonly string[];
}

export const DEFAULT_OPTIONS: BenchOptions = {
  sizes: [1_000, 10_000, 50_000, 100_000],
  latencyMs: 25,
  nonEksRatio: 0.2,
  terminatedEvery: 100,
  clusters: 20,
  detail: EKS_NODE_DETAIL,
  extrasUpTo: 10_000,
  naive: true,
  zeroLatencyRun: true,
  changeEvents: 200,
  remediationNodes: 100,
  remediationScenarios: ['rested', 'drained'],
  coldStartRuns: 11,
  sourceColdStartRuns: 5,
  workerArgs: [],
};

/** Small enough for CI: every part runs, none at a size that takes long. */
export const QUICK_OPTIONS: BenchOptions = {
  ...DEFAULT_OPTIONS,
  sizes: [1_500],
  changeEvents: 20,
  remediationNodes: 10,
  coldStartRuns: 3,
  sourceColdStartRuns: 1,
};

export interface BenchResult {
  readonly options: BenchOptions;
  readonly machine: Machine;
  /** The functions as template.yaml deploys them. */
  readonly deployed: { readonly evaluate: DeployedFunction; readonly remediate: DeployedFunction };
  readonly startedAt: Date;
  readonly durationMs: number;
  readonly sweeps: readonly SweepRow[];
  readonly change: ChangeResult;
  readonly remediation: readonly RemediationRun[];
  readonly bundles: readonly BundleRow[];
}

/** The whole benchmark: builds the bundles, runs every part, removes what it built. */
export async function runBenchmark(options: BenchOptions, progress: (line: string) => void = () => {}): Promise<BenchResult> {
  const startedAt = new Date();
  const loadAtStart = loadavg();
  const t0 = performance.now();
  const deployed = { evaluate: deployedFunction('EvaluateFunction'), remediate: deployedFunction('RemediateFunction') };
  const concurrency = remediationConcurrency();
  progress('building the functions (scripts/build.ts) and the naive baseline');
  const built = await buildForBenchmark();
  try {
    const bundleOf = (name: string) => {
      const fn = built.functions.find((f) => f.name === name);
      if (fn === undefined) throw new Error(`scripts/build.ts built no ${name}`);
      return fn.file;
    };
    const ruleBundle = bundleOf('evaluate-imds');
    const remediateBundle = bundleOf('remediate-imds');
    const runtime = { worker: built.worker, nodeArgs: options.workerArgs };

    const sweeps = await benchmarkSweeps(
      {
        sizes: options.sizes,
        latencyMs: options.latencyMs,
        nonEksRatio: options.nonEksRatio,
        terminatedEvery: options.terminatedEvery,
        clusters: options.clusters,
        detail: options.detail,
        extrasUpTo: options.extrasUpTo,
        runtime,
        evaluate: deployed.evaluate,
        ruleBundle,
        naiveBundle: options.naive ? built.naive : undefined,
        zeroLatencyRun: options.zeroLatencyRun,
      },
      progress,
    );
    progress(`change-triggered: ${options.changeEvents} events`);
    const change = await benchmarkChanges({ events: options.changeEvents, latencyMs: options.latencyMs, runtime, evaluate: deployed.evaluate, ruleBundle });
    progress(`remediation: ${options.remediationNodes} nodes, ${concurrency} at a time, EC2 bucket ${options.remediationScenarios.join(' then ')}`);
    const remediation = await benchmarkRemediation({
      nodes: options.remediationNodes,
      latencyMs: options.latencyMs,
      remediate: deployed.remediate,
      evaluate: deployed.evaluate,
      scenarios: options.remediationScenarios,
      runtime,
      ruleBundle,
      remediateBundle,
    });
    progress(`bundles: cold start in ${options.coldStartRuns} fresh processes each`);
    const bundles = await measureBundles(built, {
      runs: options.coldStartRuns,
      sourceRuns: options.sourceColdStartRuns,
      env: { ...QUIET_TELEMETRY, AWS_REGION: 'us-east-1' },
    });
    return {
      options,
      machine: describeMachine(loadAtStart),
      deployed,
      startedAt,
      durationMs: performance.now() - t0,
      sweeps,
      change,
      remediation,
      bundles,
    };
  } finally {
    await built.remove();
  }
}
