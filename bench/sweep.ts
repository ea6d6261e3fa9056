import { ConfigServiceClient, GetComplianceDetailsByConfigRuleCommand } from '@aws-sdk/client-config-service';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { startEmulator, scheduledInvocation, syntheticFleet, type Emulator, type NodeDetail } from '../emulator/index.ts';
import { CLIENT_DEFAULTS } from '../functions/shared/clients.ts';
import { identifyEksNode, sweepFilters } from '../functions/shared/eks-node.ts';
import { parseRuleParameters } from '../functions/shared/parameters.ts';
import { EC2_BUCKETS, injectLatencyAndBuckets } from './ec2-buckets.ts';
import { contextSpec, functionEnv, RULE_NAME, type DeployedFunction, type WorkerRuntime } from './lambda.ts';
import { median } from './stats.ts';
import { ExecutionEnvironment, type HeapReport } from './worker-protocol.ts';

export const OPS = {
  describe: 'ec2:DescribeInstances',
  put: 'config:PutEvaluations',
  cleanup: 'config:GetComplianceDetailsByConfigRule',
  recorder: 'config:DescribeConfigurationRecorders',
  recorderStatus: 'config:DescribeConfigurationRecorderStatus',
} as const;

export interface SweepOptions {
  readonly sizes: readonly number[];
  readonly latencyMs: number;
  /** Non-EKS instances added per EKS node (0.2: 10,000 nodes live among 12,000 instances). */
  readonly nonEksRatio: number;
  /** Every k-th EKS node is terminated after the previous sweep (100: 1 %). */
  readonly terminatedEvery: number;
  readonly clusters: number;
  readonly detail: NodeDetail | undefined;
  /** Sizes above this run the rule at the injected latency only. */
  readonly extrasUpTo: number;
  readonly runtime: WorkerRuntime;
  /** template.yaml's EvaluateFunction: its timeout goes into the Lambda context. */
  readonly evaluate: DeployedFunction;
  readonly ruleBundle: string;
  readonly naiveBundle: string | undefined;
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
  /** Pages of the COMPLIANT listing chain. */
  readonly compliantPages: number;
  /** Pages of the NON_COMPLIANT listing chain. */
  readonly nonCompliantPages: number;
  /** Pages of the NOT_APPLICABLE listing chain (read so that an unchanged one is not re-put; none are seeded here). */
  readonly notApplicablePages: number;
  /** The three listing chains: compliantPages + nonCompliantPages + notApplicablePages. */
  readonly cleanup: number;
  /** DescribeConfigurationRecorders and ...RecorderStatus, once each, beside the chains. */
  readonly recorder: number;
  readonly total: number;
  /**
   * Calls in a row that no overlap can shorten: the longest of the three chains (DescribeInstances
   * pages, COMPLIANT pages, NON_COMPLIANT pages), then the final put, which must wait for all three.
   */
  readonly criticalPathCalls: number;
  /** The three chains one after another, then the final put: what the sweep costs with no overlap. */
  readonly sequentialCalls: number;
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
  /** Evaluations AWS Config recorded during the run: what it bills. */
  readonly billed: number;
}

/**
 * What one page costs outside the function's own code, measured in the parent process after the
 * runs: the emulator building the answer, and the SDK (the same clients the functions use)
 * handling it with the network taken out: serialize, sign, parse.
 */
export interface PageCosts {
  /** First DescribeInstances page: selects the matching instances of the whole fleet, writes up to 1,000. */
  readonly describeFirstMs: number;
  /** Median later page (of the first ten): writes 1,000 instances as XML. */
  readonly describeNextMs: number;
  /** Bytes of DescribeInstances XML per instance, over the pages sampled. */
  readonly describeBytesPerInstance: number;
  /** Median over the sweep's pages: the SDK's DescribeInstancesCommand round trip on a canned answer. */
  readonly describeSdkMs: number;
  /** First page of the COMPLIANT listing (the longer chain here). */
  readonly cleanupFirstMs: number;
  readonly cleanupNextMs: number;
  /** Median over the COMPLIANT listing's pages: the SDK's round trip on a canned answer of 100 results. */
  readonly cleanupSdkMs: number;
}

export interface SweepRow {
  readonly scenario: SweepScenario;
  readonly bounds: LowerBounds;
  readonly rule: RunMeasure;
  /** The same sweep again right after `rule`, the fleet unchanged: what a steady-state sweep costs. */
  readonly again: RunMeasure;
  readonly ruleAtZero: RunMeasure | undefined;
  readonly naive: RunMeasure | undefined;
  readonly pageCosts: PageCosts;
}

/**
 * What functions/shared/config-rule/evaluator.ts (`sweepAndCleanUp`) must do for this scenario.
 * DescribeInstances: ⌈live / 1,000⌉ pages, at least one (EC2 filters out the rest). Listing: one
 * paginator per compliance type (three), 100 results a page, each at least one page. Puts: the sweep's
 * evaluations and the stale results share batches of 100 (stale results join the last batch); the
 * seeded results carry no annotation, so every live node's verdict differs and is written.
 */
export function lowerBounds(scenario: SweepScenario): LowerBounds {
  const stale = scenario.terminated;
  const describe = Math.max(1, Math.ceil(scenario.live / 1000));
  const put = Math.ceil((scenario.live + stale) / 100);
  const compliantPages = Math.max(1, Math.ceil(scenario.previousCompliant / 100));
  const nonCompliantPages = Math.max(1, Math.ceil((scenario.previousResults - scenario.previousCompliant) / 100));
  const notApplicablePages = 1;
  const cleanup = compliantPages + nonCompliantPages + notApplicablePages;
  const finalPut = put > 0 ? 1 : 0;
  const recorder = 2;
  return {
    describe,
    put,
    compliantPages,
    nonCompliantPages,
    notApplicablePages,
    cleanup,
    recorder,
    total: describe + put + cleanup + recorder,
    criticalPathCalls: Math.max(describe, compliantPages, nonCompliantPages) + finalPut,
    sequentialCalls: describe + cleanup + finalPut,
  };
}

export async function benchmarkSweeps(options: SweepOptions, progress: (line: string) => void): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  for (const size of options.sizes) {
    const emulator = await startEmulator();
    try {
      const fleet = seedFleet(emulator, size, options);
      const scenario = fleet.scenario;
      progress(`sweep N=${size}: ${scenario.eksNodes} EKS nodes (${scenario.terminated} terminated) + ${scenario.nonEks} non-EKS`);

      const extras = size <= options.extrasUpTo;
      let ruleAtZero: RunMeasure | undefined;
      if (options.zeroLatencyRun && extras) {
        fleet.reset();
        ruleAtZero = await runSweep(emulator, options, options.ruleBundle, 0);
        progress(`  rule, latency 0: ${Math.round(ruleAtZero.wallMs)} ms`);
      }
      fleet.reset();
      const rule = await runSweep(emulator, options, options.ruleBundle, options.latencyMs);
      progress(`  rule, latency ${options.latencyMs} ms: ${Math.round(rule.wallMs)} ms, ${rule.billed} evaluations billed`);
      const again = await runSweep(emulator, options, options.ruleBundle, options.latencyMs);
      progress(`  rule again, fleet unchanged: ${Math.round(again.wallMs)} ms, ${again.billed} evaluations billed`);
      let naive: RunMeasure | undefined;
      if (options.naiveBundle !== undefined && extras) {
        fleet.reset();
        naive = await runSweep(emulator, options, options.naiveBundle, options.latencyMs);
        progress(`  naive, latency ${options.latencyMs} ms: ${Math.round(naive.wallMs)} ms`);
      }
      // After the runs: the emulator's code is warm, as it was for every page they asked for.
      fleet.reset();
      const pageCosts = await measurePageCosts(emulator);
      rows.push({ scenario, bounds: lowerBounds(scenario), rule, again, ruleAtZero, naive, pageCosts });
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
  const specs = syntheticFleet(eksNodes + nonEks, {
    nonEks,
    clusters: options.clusters,
    ...(options.detail === undefined ? {} : { detail: options.detail }),
  });
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

async function runSweep(emulator: Emulator, options: SweepOptions, bundle: string, latencyMs: number): Promise<RunMeasure> {
  injectLatencyAndBuckets(emulator, latencyMs, { [OPS.describe]: EC2_BUCKETS[OPS.describe] });
  const { environment, initMs, rssAfterLoad } = await ExecutionEnvironment.start({
    ...options.runtime,
    module: bundle,
    env: functionEnv(emulator, options.evaluate.memoryMb),
    memoryMb: options.evaluate.memoryMb,
  });
  try {
    emulator.resetCalls();
    const recordedBefore = emulator.config.recordedEvaluations;
    const event = scheduledInvocation(emulator, { ruleName: RULE_NAME });
    const context = contextSpec(emulator, `${RULE_NAME}-evaluate`, options.evaluate.memoryMb, options.evaluate.timeoutMs);
    const reply = await environment.invoke([event], context, true);
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
      billed: emulator.config.recordedEvaluations - recordedBefore,
    };
  } finally {
    await environment.stop();
    emulator.faults.clear();
    emulator.drainComplianceEvents();
  }
}

/** DescribeInstances pages timed per size (and ten times as many listing pages). */
const SAMPLED_PAGES = 10;

/**
 * Builds the answers the sweep asks for by calling the emulator's services directly (no HTTP),
 * then hands each to an SDK client whose request handler returns it without a network.
 */
async function measurePageCosts(emulator: Emulator): Promise<PageCosts> {
  const params = parseRuleParameters(undefined);
  const form = new URLSearchParams({ Action: 'DescribeInstances', Version: '2016-11-15', MaxResults: '1000', IncludeManagedResources: 'true' });
  for (const [i, filter] of sweepFilters(params).entries()) {
    form.set(`Filter.${i + 1}.Name`, filter.Name ?? '');
    for (const [j, value] of (filter.Values ?? []).entries()) form.set(`Filter.${i + 1}.Value.${j + 1}`, value);
  }
  const describe = emulator.ec2.operations['DescribeInstances'];
  if (describe === undefined) throw new Error('the emulator has no DescribeInstances');
  const describeTimes: number[] = [];
  const describePages: string[] = [];
  let described = 0;
  for (let token: string | undefined; ; ) {
    if (token !== undefined) form.set('NextToken', token);
    const started = performance.now();
    const xml = describe(form, 'bench');
    describeTimes.push(performance.now() - started);
    describePages.push(xml);
    described += xml.split('<instanceId>').length - 1;
    token = /<nextToken>([^<]+)<\/nextToken>/.exec(xml)?.[1];
    // A sample is enough for a median, and 100 realistic pages would hold over a GB here.
    if (token === undefined || describePages.length >= SAMPLED_PAGES) break;
  }

  const cleanupTimes: number[] = [];
  const cleanupPages: string[] = [];
  for (let token: string | undefined; ; ) {
    const started = performance.now();
    const page = emulator.config.getComplianceDetailsByConfigRule({
      ConfigRuleName: RULE_NAME,
      ComplianceTypes: ['COMPLIANT'],
      Limit: 100,
      ...(token === undefined ? {} : { NextToken: token }),
    });
    // The HTTP layer serializes the answer: part of the emulator's cost.
    cleanupPages.push(JSON.stringify(page));
    cleanupTimes.push(performance.now() - started);
    token = typeof page['NextToken'] === 'string' ? page['NextToken'] : undefined;
    if (token === undefined || cleanupPages.length >= 10 * SAMPLED_PAGES) break;
  }

  const describeAnswers = cannedHandler('text/xml;charset=UTF-8', describePages);
  const cleanupAnswers = cannedHandler('application/x-amz-json-1.1', cleanupPages);
  const ec2 = new EC2Client(cannedConfig(describeAnswers));
  const config = new ConfigServiceClient(cannedConfig(cleanupAnswers));
  const describeRequest = { Filters: sweepFilters(params), MaxResults: 1000, IncludeManagedResources: true };
  const cleanupRequest = { ConfigRuleName: RULE_NAME, ComplianceTypes: ['COMPLIANT' as const], Limit: 100 };
  const describeSdk = await timeEach(describePages.length, () => ec2.send(new DescribeInstancesCommand(describeRequest)), describeAnswers.rewind);
  const cleanupSdk = await timeEach(cleanupPages.length, () => config.send(new GetComplianceDetailsByConfigRuleCommand(cleanupRequest)), cleanupAnswers.rewind);
  ec2.destroy();
  config.destroy();
  return {
    describeFirstMs: describeTimes[0] ?? Number.NaN,
    describeNextMs: median(describeTimes.slice(1)),
    describeBytesPerInstance: described === 0 ? Number.NaN : describePages.reduce((n, xml) => n + Buffer.byteLength(xml), 0) / described,
    describeSdkMs: median(describeSdk),
    cleanupFirstMs: cleanupTimes[0] ?? Number.NaN,
    cleanupNextMs: median(cleanupTimes.slice(1)),
    cleanupSdkMs: median(cleanupSdk),
  };
}

/** Answers every request, without a network, with the next of `bodies`. */
function cannedHandler(contentType: string, bodies: readonly string[]) {
  let next = 0;
  return {
    handle: async () => ({ response: { statusCode: 200, headers: { 'content-type': contentType }, body: Buffer.from(bodies[next++ % bodies.length] ?? '') } }),
    rewind: () => {
      next = 0;
    },
  };
}

/** The functions' client settings, canned answers and fake keys. */
function cannedConfig(requestHandler: ReturnType<typeof cannedHandler>) {
  return { ...CLIENT_DEFAULTS, region: 'us-east-1', credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' }, requestHandler };
}

/** Times `n` calls after a warm-up pass over the same answers (the functions' SDK code is warm by their later pages too). */
async function timeEach(n: number, call: () => Promise<unknown>, rewind: () => void): Promise<number[]> {
  for (let i = 0; i < Math.max(n, 3); i++) await call();
  rewind();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await call();
    times.push(performance.now() - started);
  }
  return times;
}
