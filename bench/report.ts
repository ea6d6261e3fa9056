import type { BenchResult } from './benchmark.ts';
import { EC2_BUCKETS } from './ec2-buckets.ts';
import { FULL_VCPU_MEMORY_MB } from './lambda.ts';
import { REMEDIATION_OPS, type RemediationRun } from './remediation.ts';
import { OPS, type LowerBounds, type RunMeasure, type SweepRow } from './sweep.ts';
import { lambdaHeapFlags } from './worker-protocol.ts';

export const WALL_TARGET = 1.2;
export const HEAP_GROWTH_TARGET = 1.5;
/** Issue #11: the largest sweep must finish within this share of the deployed timeout. */
export const TIMEOUT_SHARE_TARGET = 0.2;
const megabytes = (mb: number) => mb * 1024 * 1024;

/**
 * What a sweep would take on Lambda at `memoryMb`, from what does not depend on how busy this
 * machine was: the function's CPU time, stretched to the share of a vCPU Lambda gives that memory
 * size (never more than one: the parse runs on one thread), plus, in series with it, the waits of
 * the DescribeInstances chain (the injected latency and the emulator building each page, standing
 * in for EC2's own time) and of the final put. Conservative: nothing overlaps. The measured wall is
 * shown beside it but not used: other work shared this machine's cores during the runs.
 */
export function lambdaEstimateMs(row: SweepRow, run: RunMeasure, memoryMb: number): number {
  const stretch = Math.max(1, FULL_VCPU_MEMORY_MB / memoryMb);
  const pageMs = Number.isFinite(row.pageCosts.describeNextMs) ? row.pageCosts.describeNextMs : row.pageCosts.describeFirstMs;
  return run.cpuMs * stretch + row.bounds.describe * (run.latencyMs + pageMs) + run.latencyMs;
}
const MODIFY_BUCKET = EC2_BUCKETS[REMEDIATION_OPS.modify];

export interface TargetCheck {
  readonly target: string;
  readonly met: boolean;
  readonly measured: string;
}

const count = (n: number) => n.toLocaleString('en-US');
const ratio = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '–');
function percent(part: number, whole: number): string {
  const share = (100 * part) / whole;
  if (!Number.isFinite(share)) return '–';
  return share > 0 && share < 1 ? '< 1 %' : `${Math.round(share)} %`;
}
const mib = (bytes: number | undefined) => (bytes === undefined ? '–' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);
const mark = (met: boolean) => (met ? '✅' : '❌');
const perSecond = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}/s` : '–');

function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function requested(run: RunMeasure, op: string): number {
  return run.requests[op] ?? 0;
}

function totalRequests(run: RunMeasure): number {
  return Object.values(run.requests).reduce((a, b) => a + b, 0);
}

/** The rule's summary says it swept every live node and retired every terminated one. */
function didTheJob(row: SweepRow): boolean {
  const summary = row.rule.summary as { swept?: number; cleanedUp?: number } | undefined;
  return summary?.swept === row.scenario.live && summary.cleanedUp === row.scenario.terminated;
}

function callsMatch(row: SweepRow): boolean {
  const { rule, bounds } = row;
  return (
    rule.error === undefined &&
    didTheJob(row) &&
    requested(rule, OPS.describe) === bounds.describe &&
    requested(rule, OPS.put) === bounds.put &&
    requested(rule, OPS.cleanup) === bounds.cleanup &&
    requested(rule, OPS.recorder) + requested(rule, OPS.recorderStatus) === bounds.recorder &&
    totalRequests(rule) === bounds.total
  );
}

export function criticalPathMs(row: SweepRow): number {
  return row.bounds.criticalPathCalls * row.rule.latencyMs;
}

function sequentialMs(row: SweepRow): number {
  return row.bounds.sequentialCalls * row.rule.latencyMs;
}

function wallRatio(row: SweepRow): number {
  return row.rule.wallMs / criticalPathMs(row);
}

/** The chain that sets the critical path, for the notes. */
function longestChain(bounds: LowerBounds): string {
  const longest = Math.max(bounds.describe, bounds.compliantPages, bounds.nonCompliantPages);
  if (longest === bounds.describe) return `${count(bounds.describe)} DescribeInstances pages`;
  if (longest === bounds.compliantPages) return `${count(bounds.compliantPages)} COMPLIANT listing pages`;
  return `${count(bounds.nonCompliantPages)} NON_COMPLIANT listing pages`;
}

function remediationCallsMatch(run: RemediationRun): boolean {
  return (
    Object.keys(run.unexpected).length === 0 &&
    (Object.keys(REMEDIATION_OPS) as (keyof typeof REMEDIATION_OPS)[]).every(
      (op) => Math.abs(run.succeededPerNode[op] - run.lowerBoundPerNode[op]) < 1e-9,
    )
  );
}

export function checkTargets(result: BenchResult): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const row of result.sweeps) {
    checks.push({
      target: `Sweep of ${count(row.scenario.eksNodes)} nodes: calls = lower bound`,
      met: callsMatch(row),
      measured: `${count(totalRequests(row.rule))} / ${count(row.bounds.total)} (${ratio(totalRequests(row.rule) / row.bounds.total)})`,
    });
  }
  for (const row of result.sweeps) {
    if (row.rule.latencyMs === 0) continue;
    checks.push({
      target: `Sweep of ${count(row.scenario.eksNodes)} nodes: wall ≤ ${WALL_TARGET} × critical path`,
      met: row.rule.error === undefined && wallRatio(row) <= WALL_TARGET,
      measured: `${duration(row.rule.wallMs)} / ${duration(criticalPathMs(row))} = ${ratio(wallRatio(row))}`,
    });
  }
  const smallest = result.sweeps[0];
  const largest = result.sweeps.at(-1);
  if (smallest !== undefined && largest !== undefined && largest !== smallest && smallest.rule.heap && largest.rule.heap) {
    const growth = largest.rule.heap.peakUsed / smallest.rule.heap.peakUsed;
    checks.push({
      target: `Peak heap at ${count(largest.scenario.eksNodes)} ≤ ${HEAP_GROWTH_TARGET} × at ${count(smallest.scenario.eksNodes)}`,
      met: growth <= HEAP_GROWTH_TARGET,
      measured: `${mib(largest.rule.heap.peakUsed)} / ${mib(smallest.rule.heap.peakUsed)} = ${ratio(growth)}`,
    });
  }
  const { memoryMb, timeoutMs } = result.deployed.evaluate;
  if (largest !== undefined) {
    checks.push({
      target: `A ${count(largest.scenario.eksNodes)}-node sweep fits the deployed ${count(memoryMb)} MB`,
      met: largest.rule.error === undefined && largest.rule.maxRssBytes < megabytes(memoryMb),
      measured: `peak RSS ${mib(largest.rule.maxRssBytes)} of ${count(memoryMb)} MiB, under Lambda's V8 limits for ${count(memoryMb)} MB`,
    });
    const estimate = lambdaEstimateMs(largest, largest.rule, memoryMb);
    checks.push({
      target: `Sweep of ${count(largest.scenario.eksNodes)} nodes at ${count(memoryMb)} MB ≤ ${TIMEOUT_SHARE_TARGET * 100} % of the ${count(timeoutMs / 1000)} s timeout (est.)`,
      met: largest.rule.error === undefined && estimate <= TIMEOUT_SHARE_TARGET * timeoutMs,
      measured: `${duration(estimate)} of ${duration(TIMEOUT_SHARE_TARGET * timeoutMs)} (CPU ${duration(largest.rule.cpuMs)} at a ${ratio(Math.min(1, memoryMb / FULL_VCPU_MEMORY_MB))} vCPU share, ${count(largest.bounds.describe)} pages' waits; wall here ${duration(largest.rule.wallMs)})`,
    });
  }
  for (const row of result.sweeps) {
    checks.push({
      target: `Second sweep of ${count(row.scenario.eksNodes)} unchanged nodes: 0 evaluations billed`,
      met: row.again.error === undefined && row.again.billed === 0,
      measured: `${count(row.again.billed)} (first sweep: ${count(row.rule.billed)})`,
    });
  }
  const { change } = result;
  checks.push({
    target: 'Change-triggered: 0 EC2 + 1 Config call per event',
    met: change.failures === 0 && change.ec2Calls === 0 && change.configCalls === 1 && change.otherCalls === 0,
    measured: `${change.ec2Calls} EC2 + ${change.configCalls} Config per event, ${change.failures} failed`,
  });
  for (const run of result.remediation) {
    checks.push({
      target: `Remediation, ${run.scenario} bucket: no throttling error escapes, every node fixed`,
      met: run.errorsEscaping === 0 && (run.outcomes['remediated'] ?? 0) === run.nodes,
      measured: `${run.errorsEscaping} escaped, ${run.throttled} throttles absorbed, ${run.outcomes['remediated'] ?? 0}/${run.nodes} remediated`,
    });
    checks.push({
      target: `Remediation, ${run.scenario} bucket: successful calls per node = lower bound`,
      met: remediationCallsMatch(run),
      measured: perNodeText(run.succeededPerNode),
    });
  }
  return checks;
}

function perNodeText(perNode: Readonly<Record<keyof typeof REMEDIATION_OPS, number>>): string {
  return (
    `${perNode.describe} Describe + ${perNode.modify} Modify + ${perNode.tag} CreateTags + ` +
    `${perNode.metric} GetMetricStatistics + ${perNode.publish} Publish + ${perNode.event} PutEvents`
  );
}

/** Modify calls answered with success per second of the storm. */
function modifyRate(run: RemediationRun): number {
  return (run.succeededPerNode.modify * run.nodes) / (run.wallMs / 1000);
}

export interface ReportMeta {
  readonly command: string;
}

export function renderReport(result: BenchResult, meta: ReportMeta): string {
  const { options, machine, deployed } = result;
  const L = options.latencyMs;
  const checks = checkTargets(result);
  const missed = checks.filter((c) => !c.met);
  const out: string[] = [];

  out.push('# Benchmarks', '');
  out.push(
    `Generated by \`${meta.command}\` on ${result.startedAt.toISOString().slice(0, 10)} ` +
      `(${duration(result.durationMs)}): ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB.toFixed(1)} GiB, ` +
      `${machine.os}, Node ${machine.node}; load average (1/5/15 min) ${machine.loadAtStart.map((l) => l.toFixed(2)).join('/')} at the ` +
      `start and ${machine.loadAtEnd.map((l) => l.toFixed(2)).join('/')} at the end (the cores were shared with other work; ` +
      'a load above the core count inflates every wall below). ' +
      `Every call goes to the loopback emulator (emulator/) with ${L} ms of latency ` +
      'injected unless a column says otherwise. The functions run as built by scripts/build.ts, each in its own process ' +
      'with the V8 limits Lambda sets for the memory size template.yaml deploys it with: the sweeps and the ' +
      `change-triggered evaluation at ${count(deployed.evaluate.memoryMb)} MB (\`${lambdaHeapFlags(deployed.evaluate.memoryMb).join(' ')}\`), ` +
      `the remediation at ${count(deployed.remediate.memoryMb)} MB. ` +
      (options.detail === undefined
        ? 'Instances are lean entries (no network interfaces or volumes). '
        : `Every instance is described as a real EKS node is: ${options.detail.networkInterfaces} network interfaces of ` +
          `${options.detail.ipsPerInterface} private IPs each (the VPC CNI's secondary IPs), ${options.detail.volumes} volumes, ` +
          'security groups and the rest of what DescribeInstances returns (emulator/node-detail.ts). ') +
      'The emulator and its fleet live in the parent process. This is a benchmark, not a test: nothing here asserts a time.',
    '',
  );

  out.push('## Targets', '');
  out.push(table(['target', '', 'measured'], checks.map((c) => [c.target, mark(c.met), c.measured])), '');
  out.push(missed.length === 0 ? 'Every target is met.' : `${missed.length} of ${checks.length} targets missed: see the notes below.`, '');

  out.push('## Sweep: calls', '');
  out.push(
    `A second sweep: Config holds yesterday's COMPLIANT or NON_COMPLIANT result for every EKS node (C and NC below), and ` +
      `1 node in ${options.terminatedEvery} has been terminated since (EC2 still lists it). Non-EKS instances: ` +
      `${Math.round(options.nonEksRatio * 100)} % on top of the nodes, spread across every page; ${options.clusters} clusters. ` +
      'Cells are requests made / lower bound; the listing is two paginators, one per compliance type, and its bound is ' +
      'split as COMPLIANT + NON_COMPLIANT pages.',
    '',
  );
  out.push(
    table(
      [
        'EKS nodes',
        'instances',
        'previous results C + NC',
        'DescribeInstances',
        'PutEvaluations',
        'GetComplianceDetailsByConfigRule',
        'recorder reads',
        'total / lower bound',
        'naive total (Describe + Put + Get)',
        'ours / naive',
      ],
      result.sweeps.map((row) => {
        const { rule, naive, bounds, scenario } = row;
        return [
          count(scenario.eksNodes),
          count(scenario.eksNodes + scenario.nonEks),
          `${count(scenario.previousCompliant)} + ${count(scenario.previousResults - scenario.previousCompliant)}`,
          `${count(requested(rule, OPS.describe))} / ${count(bounds.describe)}`,
          `${count(requested(rule, OPS.put))} / ${count(bounds.put)}`,
          `${count(requested(rule, OPS.cleanup))} / ${count(bounds.cleanup)} (${count(bounds.compliantPages)} + ${count(bounds.nonCompliantPages)} + ${count(bounds.notApplicablePages)})`,
          `${count(requested(rule, OPS.recorder) + requested(rule, OPS.recorderStatus))} / ${count(bounds.recorder)}`,
          `${count(totalRequests(rule))} / ${count(bounds.total)} = ${ratio(totalRequests(rule) / bounds.total)}`,
          naive === undefined
            ? '–'
            : `${count(totalRequests(naive))} (${count(requested(naive, OPS.describe))} + ${count(requested(naive, OPS.put))} + ${count(requested(naive, OPS.cleanup))})`,
          naive === undefined ? '–' : ratio(totalRequests(rule) / totalRequests(naive)),
        ];
      }),
    ),
    '',
  );

  const cpuAtDeployed = (cpuMs: number) => (cpuMs * FULL_VCPU_MEMORY_MB) / deployed.evaluate.memoryMb;
  out.push('## Sweep: billed evaluations, first and second sweep', '');
  out.push(
    'AWS Config bills every evaluation it records. "First sweep" is the sweep above: every earlier result carries ' +
      'another annotation, so every live node\'s verdict is written, and each terminated node\'s result is retired. ' +
      '"Second sweep" runs right after it on the same fleet, unchanged: the protocol writes only what differs from what ' +
      'Config holds (functions/shared/config-rule), so it should write nothing. Billed = evaluations the emulator ' +
      `recorded during the run. The estimate at ${count(deployed.evaluate.memoryMb)} MB is CPU × s + D × (L + P) + L, with ` +
      `s = max(1, ${count(FULL_VCPU_MEMORY_MB)} / ${count(deployed.evaluate.memoryMb)}) the stretch of the function's CPU time to ` +
      'the share of a vCPU Lambda gives that memory size, D the DescribeInstances pages, L the injected latency and P the ' +
      'emulator\'s time to build a page (standing in for EC2\'s own), all in series: nothing assumed to overlap. The ' +
      'walls are shown but not used: other work shared this machine\'s two cores (see the load above).',
    '',
  );
  out.push(
    table(
      [
        'EKS nodes',
        'first sweep: billed',
        'first sweep: wall',
        'first sweep: CPU',
        `first sweep at ${count(deployed.evaluate.memoryMb)} MB (est.)`,
        'second sweep: billed',
        'second sweep: calls (Describe + Get + Put + recorder)',
        'second sweep: wall',
        'second sweep: CPU',
        `second sweep at ${count(deployed.evaluate.memoryMb)} MB (est.)`,
      ],
      result.sweeps.map((row) => [
        count(row.scenario.eksNodes),
        count(row.rule.billed),
        duration(row.rule.wallMs),
        duration(row.rule.cpuMs),
        duration(lambdaEstimateMs(row, row.rule, deployed.evaluate.memoryMb)),
        `${count(row.again.billed)} ${mark(row.again.error === undefined && row.again.billed === 0)}`,
        `${count(totalRequests(row.again))} (${count(requested(row.again, OPS.describe))} + ${count(requested(row.again, OPS.cleanup))} + ` +
          `${count(requested(row.again, OPS.put))} + ${count(requested(row.again, OPS.recorder) + requested(row.again, OPS.recorderStatus))})`,
        row.again.error === undefined ? duration(row.again.wallMs) : `failed: ${row.again.error}`,
        duration(row.again.cpuMs),
        duration(lambdaEstimateMs(row, row.again, deployed.evaluate.memoryMb)),
      ]),
    ),
    '',
  );

  out.push('## Sweep: wall time', '');
  out.push(
    `The sweep runs three chains side by side: the DescribeInstances pages (D = ⌈live nodes / 1,000⌉) and the two ` +
      'listings (⌈C / 100⌉ and ⌈NC / 100⌉ pages), each call waiting for the one before; the puts overlap them; the final ' +
      `put waits for all three. **Critical path** = (max(D, ⌈C / 100⌉, ⌈NC / 100⌉) + 1) × ${L} ms: the target is measured ` +
      `against it. **Chains in a row** = (D + ⌈C / 100⌉ + ⌈NC / 100⌉ + 1) × ${L} ms, what the same calls cost with no ` +
      'overlap (the critical path before the chains overlapped), shown for comparison only: it is not the target. ' +
      '"At 0 ms" is the same sweep with no latency: what the rule and the emulator spend processing. CPU is the ' +
      `function process's own (user + system) during the handler call; "at ${count(deployed.evaluate.memoryMb)} MB" ` +
      `scales it to the CPU share Lambda gives the deployed memory size (a full vCPU at ${count(FULL_VCPU_MEMORY_MB)} MB).`,
    '',
  );
  out.push(
    table(
      [
        'EKS nodes',
        'critical path',
        'wall',
        `wall / critical path (target ≤ ${WALL_TARGET})`,
        'chains in a row (not the target)',
        'wall / chains in a row',
        'wall at 0 ms',
        'rule CPU',
        `CPU at ${count(deployed.evaluate.memoryMb)} MB (est.)`,
        'naive wall',
        'ours / naive',
      ],
      result.sweeps.map((row) => {
        const { rule, naive, ruleAtZero } = row;
        const ok = rule.error === undefined;
        return [
          count(row.scenario.eksNodes),
          `${duration(criticalPathMs(row))} (${count(row.bounds.criticalPathCalls)} calls)`,
          ok ? duration(rule.wallMs) : `failed: ${rule.error}`,
          `${ratio(wallRatio(row))} ${mark(ok && wallRatio(row) <= WALL_TARGET)}`,
          `${duration(sequentialMs(row))} (${count(row.bounds.sequentialCalls)} calls)`,
          ratio(rule.wallMs / sequentialMs(row)),
          duration(ruleAtZero?.wallMs),
          duration(rule.cpuMs),
          duration(cpuAtDeployed(rule.cpuMs)),
          duration(naive?.wallMs),
          naive === undefined ? '–' : ratio(rule.wallMs / naive.wallMs),
        ];
      }),
    ),
    '',
  );

  out.push('## Sweep: memory of the function process', '');
  out.push(
    'Heap is V8 heapUsed. "At rest": after import and a full GC, before the event. "Peak": the largest heapUsed ' +
      'reached, garbage included (V8 GCProfiler: the size before every GC, and at the end). "Max live": the ' +
      'largest heapUsed right after a GC. "Retained": after the handler returned and a full GC. Peak RSS is ' +
      '`process.resourceUsage().maxRSS`, the process\'s true peak; "after import" is the RSS of Node plus the ' +
      `imported bundle before the event. All under the V8 limits of a ${count(deployed.evaluate.memoryMb)} MB function.`,
    '',
  );
  const base = result.sweeps[0]?.rule.heap?.peakUsed;
  out.push(
    table(
      ['EKS nodes', 'heap at rest', 'peak heap', `peak / at ${count(result.sweeps[0]?.scenario.eksNodes ?? 0)}`, 'max live', 'retained', 'GCs', 'RSS after import', 'peak RSS', 'naive peak heap', 'naive peak RSS'],
      result.sweeps.map(({ rule, naive, scenario }) => [
        count(scenario.eksNodes),
        mib(rule.heap?.startUsed),
        mib(rule.heap?.peakUsed),
        base === undefined || rule.heap === undefined ? '–' : ratio(rule.heap.peakUsed / base),
        mib(rule.heap?.maxLive),
        mib(rule.heap?.retainedAfter),
        String(rule.heap?.gcCount ?? '–'),
        mib(rule.rssAfterLoad),
        `${mib(rule.maxRssBytes)} ${mark(rule.maxRssBytes < megabytes(deployed.evaluate.memoryMb))}`,
        mib(naive?.heap?.peakUsed),
        mib(naive?.maxRssBytes),
      ]),
    ),
    '',
  );

  out.push('## Sweep: what a page costs outside the rule', '');
  out.push(
    'Timed in the parent process after the runs, one page at a time. "Emulator": building the answer by calling the ' +
      'emulated service directly (no HTTP); this much of each wall time above is the emulator, not AWS or the rule, and ' +
      'the first page of a listing also selects the matching items of the whole store. "SDK": the functions\' SDK client, ' +
      'with their settings, sending the request and parsing that same answer from a request handler that returns it ' +
      'without a network (serialize, sign, parse; median over the pages after a warm-up pass). The listing is the ' +
      'COMPLIANT one, the longer chain here.',
    '',
  );
  out.push(
    table(
      ['EKS nodes', 'DescribeInstances XML per instance', 'emulator: Describe page 1', 'emulator: later page (1,000 instances)', 'SDK: Describe page', 'emulator: listing page 1', 'emulator: later page (100 results)', 'SDK: listing page'],
      result.sweeps.map(({ scenario, pageCosts: c }) => [
        count(scenario.eksNodes),
        `${count(Math.round(c.describeBytesPerInstance))} bytes`,
        duration(c.describeFirstMs),
        duration(c.describeNextMs),
        duration(c.describeSdkMs),
        duration(c.cleanupFirstMs),
        duration(c.cleanupNextMs),
        duration(c.cleanupSdkMs),
      ]),
    ),
    '',
  );

  const { change } = result;
  out.push('## Change-triggered evaluation', '');
  out.push(
    `${count(change.events)} configuration-item changes handled one after another by one warm execution environment. ` +
      'CPU is the handler call\'s, in the function process: the judgement plus the SDK serializing, signing and ' +
      'sending PutEvaluations and parsing its answer. The first event also pays the SDK\'s lazy set-up.',
    '',
  );
  out.push(
    table(
      ['events', 'EC2 calls / event', 'Config calls / event', 'CPU / event (median)', 'CPU p95', 'first event CPU', 'wall / event (median)', 'first event wall'],
      [
        [
          count(change.events),
          `${change.ec2Calls} ${mark(change.ec2Calls === 0)}`,
          `${change.configCalls} ${mark(change.configCalls === 1)}`,
          duration(change.cpuMsMedian),
          duration(change.cpuMsP95),
          duration(change.cpuMsFirst),
          duration(change.wallMsMedian),
          duration(change.wallMsFirst),
        ],
      ],
    ),
    '',
  );

  out.push('## Remediation', '');
  const first = result.remediation[0];
  if (first !== undefined) {
    out.push(
      `${count(first.nodes)} non-compliant managed-node-group nodes (hop limit 1; 1 in 5 also has tokens optional, so the ` +
        `IMDSv1 guard reads CloudWatch), REMEDIATION_MODE=enforce, ${first.concurrency} execution environments at once ` +
        '(template.yaml\'s RemediationMaxConcurrency default, the SQS event source mapping\'s MaximumConcurrency), each ' +
        'taking the next queued event, one a batch, when free (the SQS calls are not made). EC2 throttling is the emulator\'s token-bucket fault, with the buckets AWS-FACTS gives: ' +
        `ModifyInstanceMetadataOptions ${MODIFY_BUCKET.capacity} tokens refilled at ${MODIFY_BUCKET.refillPerSecond}/s, ` +
        `DescribeInstances ${EC2_BUCKETS['ec2:DescribeInstances'].capacity} at ${EC2_BUCKETS['ec2:DescribeInstances'].refillPerSecond}/s; ` +
        '"rested" starts the ModifyInstanceMetadataOptions bucket full, "drained" empty. CreateTags (the ledger tag) is ' +
        'not throttled: AWS-FACTS gives no bucket for it. Cells are requests per node (lower bound); throttled ' +
        'requests count. "Modify rate" is successful ModifyInstanceMetadataOptions calls per second of wall. The wall ' +
        'lower bound: every invocation\'s calls × latency plus the first 250 ms verification wait, spread over the ' +
        'concurrency, or, with a drained bucket, the refill of the last token plus what follows the change, whichever ' +
        'is longer.',
      '',
    );
    out.push(
      table(
        ['EC2 bucket', 'DescribeInstances', 'ModifyInstanceMetadataOptions', 'CreateTags', 'GetMetricStatistics', 'Publish', 'PutEvents', 'other', 'throttles absorbed', 'errors escaping', 'outcomes', 'wall', 'lower bound', 'wall / bound', 'modify rate'],
        result.remediation.map((run) => [
          `${run.scenario} (${run.bucketAtStart})`,
          `${run.perNode.describe} (${run.lowerBoundPerNode.describe})`,
          `${run.perNode.modify} (${run.lowerBoundPerNode.modify})`,
          `${run.perNode.tag} (${run.lowerBoundPerNode.tag})`,
          `${run.perNode.metric} (${run.lowerBoundPerNode.metric})`,
          `${run.perNode.publish} (${run.lowerBoundPerNode.publish})`,
          `${run.perNode.event} (${run.lowerBoundPerNode.event})`,
          Object.entries(run.unexpected).map(([op, n]) => `${op} ×${n}`).join(', ') || 'none',
          count(run.throttled),
          `${run.errorsEscaping} ${mark(run.errorsEscaping === 0)}`,
          Object.entries(run.outcomes).map(([k, v]) => `${k} ${v}`).join(', '),
          duration(run.wallMs),
          duration(run.wallLowerBoundMs),
          ratio(run.wallMs / run.wallLowerBoundMs),
          perSecond(modifyRate(run)),
        ]),
      ),
      '',
    );
  }

  out.push('## Bundles', '');
  out.push(
    `Built by scripts/build.ts (minified ESM, everything bundled). Cold start = the \`import()\` of the module in a fresh ` +
      `process (Node start-up not included), median of ${options.coldStartRuns} processes [min–max]; the unbundled ` +
      `source (Node type stripping, SDK from node_modules) over ${options.sourceColdStartRuns} for contrast.`,
    '',
  );
  out.push(
    table(
      ['function', 'bundle', 'source map', 'cold init, bundle', 'cold init, source'],
      result.bundles.map((b) => [
        b.name,
        mib(b.bytes),
        mib(b.mapBytes),
        `${duration(b.bundle.medianMs)} [${duration(b.bundle.minMs)}–${duration(b.bundle.maxMs)}]`,
        b.source === undefined ? '–' : `${duration(b.source.medianMs)} [${duration(b.source.minMs)}–${duration(b.source.maxMs)}]`,
      ]),
    ),
    '',
  );

  out.push('## Notes', '');
  out.push(...notes(result).flatMap((n) => [n, '']));

  out.push('## Method', '');
  out.push(...METHOD.flatMap((m) => [m, '']));
  return `${out.join('\n').trimEnd()}\n`;
}

function notes(result: BenchResult): string[] {
  const out: string[] = [];
  const { deployed } = result;
  const measured = result.sweeps.filter((row) => row.rule.latencyMs > 0 && row.rule.error === undefined);
  const largest = measured.at(-1);
  // The breakdown needs the same sweep at 0 ms, run only up to `extrasUpTo`.
  const slow = measured.filter((row) => row.ruleAtZero !== undefined && wallRatio(row) > WALL_TARGET);
  const headroom = WALL_TARGET - 1;
  // How much of the processing (the sweep at 0 ms) shows up on top of the critical path.
  const addedShare = (row: SweepRow) => (row.rule.wallMs - criticalPathMs(row)) / (row.ruleAtZero?.wallMs ?? Number.NaN);
  const additive = slow.length > 0 && slow.every((row) => addedShare(row) >= 0.75 && addedShare(row) <= 1.25);

  if (slow.length > 0) {
    const rows = slow.map((row) => {
      const zero = row.ruleAtZero?.wallMs ?? Number.NaN;
      const excess = row.rule.wallMs - criticalPathMs(row);
      return { row, zero, excess };
    });
    const decomposition = rows
      .map(
        ({ row, zero, excess }) =>
          `${count(row.scenario.eksNodes)} nodes: wall ${duration(row.rule.wallMs)} = critical path ${duration(criticalPathMs(row))} ` +
          `(${longestChain(row.bounds)} + the final put) + ${duration(excess)}, against ${duration(zero)} for the whole sweep at 0 ms ` +
          `(${percent(excess, zero)}) and ${duration(row.rule.cpuMs)} of function CPU`,
      )
      .join('; ');
    const overlapped = slow.every((row) => row.rule.wallMs < sequentialMs(row));
    const worseThanInARow = slow.filter((row) => row.rule.wallMs > sequentialMs(row));
    const inARow =
      worseThanInARow.length === 0
        ? ''
        : ` The wall even exceeds the chains in a row (${worseThanInARow
            .map(
              (row) =>
                `${count(row.scenario.eksNodes)} nodes: ${ratio(row.rule.wallMs / sequentialMs(row))} ×; the overlap saves at most ` +
                `${duration(sequentialMs(row) - criticalPathMs(row))} of latency, the processing costs ${duration(row.ruleAtZero?.wallMs)}`,
            )
            .join('; ')}).`;
    out.push(
      `**Why the sweep misses ${WALL_TARGET} × the critical path (${slow.map((r) => count(r.scenario.eksNodes)).join(', ')} nodes).** ` +
        'The calls are the fewest possible' +
        (overlapped ? ', and the chains do overlap (every wall is below the chains in a row)' : '') +
        ', but the critical path prices each call at the injected latency and nothing else, while every answer is ' +
        'handled on the function\'s one thread: a chain\'s next request waits until its answer is parsed, and while ' +
        'the thread parses a 1,000-instance DescribeInstances page the listing chains wait too. ' +
        (additive
          ? 'So the processing adds to the critical path instead of hiding under it: what the wall has on top of the critical path is about the whole sweep at 0 ms: '
          : 'The processing (the sweep at 0 ms) and what the wall has on top of the critical path compare as follows: ') +
        `${decomposition}.${inARow}`,
    );
  }

  if (largest !== undefined) {
    const c = largest.pageCosts;
    const describeSdk = largest.bounds.describe * c.describeSdkMs;
    const listingSdk = largest.bounds.cleanup * c.cleanupSdkMs;
    out.push(
      `**Where the processing goes (${count(largest.scenario.eksNodes)} nodes).** The function spends ${duration(largest.rule.cpuMs)} of CPU ` +
        `(${duration(largest.rule.cpuMs / (largest.scenario.live / 1000))} per 1,000 nodes). Of that, the SDK handling the ` +
        `${count(largest.bounds.describe)} DescribeInstances pages accounts for about ${duration(describeSdk)} ` +
        (describeSdk > largest.rule.cpuMs
          ? `(${duration(c.describeSdkMs)} a page, table above: timed by the clock in the parent process while other work shared the cores, ` +
            'so more than the function\'s whole CPU time and no share can be read from it) and the '
          : `(${percent(describeSdk, largest.rule.cpuMs)}; ${duration(c.describeSdkMs)} a page, table above) and the `) +
        `${count(largest.bounds.cleanup)} listing pages for about ${duration(listingSdk)} (${percent(listingSdk, largest.rule.cpuMs)}); ` +
        'the rest is the ' +
        `${count(largest.bounds.put)} PutEvaluations (serialized and signed), the rule's own code, HTTP and the garbage ` +
        'collection the parsed pages leave behind (the parent\'s timings are of a warm process without Lambda\'s heap ' +
        `limits, so the shares are approximate). The emulator builds a 1,000-instance page in ${duration(c.describeNextMs)} ` +
        'in the parent process, on the other core, but on the DescribeInstances chain. `--worker-args \'--cpu-prof ' +
        '--cpu-prof-dir=/tmp/prof\'` profiles the function process itself.',
    );
  }

  const slowest = slow.at(-1);
  if (slowest !== undefined && slowest.ruleAtZero !== undefined) {
    const processing = slowest.ruleAtZero.wallMs;
    const cp = criticalPathMs(slowest);
    const allowed = headroom * cp;
    const latencyNeeded = processing / (headroom * slowest.bounds.criticalPathCalls);
    const cpuAtDeployed = (slowest.rule.cpuMs * FULL_VCPU_MEMORY_MB) / deployed.evaluate.memoryMb;
    const cpuAllowedAtDeployed = (WALL_TARGET * cp * deployed.evaluate.memoryMb) / FULL_VCPU_MEMORY_MB;
    const onThisMachine = additive
      ? 'As long as the processing adds to the critical path, the target needs it to fit in the ' +
        `${Math.round(headroom * 100)} % of headroom: at ${count(slowest.scenario.eksNodes)} nodes and ${slowest.rule.latencyMs} ms ` +
        `a call, ${duration(allowed)} instead of the ${duration(processing)} the sweep takes at 0 ms, ` +
        `${ratio(processing / allowed)} × less. Equivalently, with today's processing the ratio would fall to ${WALL_TARGET} once a call ` +
        `takes about ${duration(latencyNeeded)} (a model, not a measurement: the injected latency stands in for AWS's, which this ` +
        'benchmark does not measure). '
      : `On this machine the wall is ${ratio(wallRatio(slowest))} × the critical path at ${count(slowest.scenario.eksNodes)} nodes. `;
    out.push(
      `**What it would take.** ${onThisMachine}` +
        (cpuAtDeployed > WALL_TARGET * cp
          ? 'On Lambda the function\'s CPU is the harder limit. Below ' +
            `${count(FULL_VCPU_MEMORY_MB)} MB a function gets a share of one vCPU, and its process's CPU time (every thread) over ` +
            'that share is a floor under the wall that no overlap removes: at the deployed ' +
            `${count(deployed.evaluate.memoryMb)} MB the ${duration(slowest.rule.cpuMs)} of CPU measured here become about ` +
            `${duration(cpuAtDeployed)}, ${ratio(cpuAtDeployed / cp)} × the critical path. Meeting ${WALL_TARGET} × at ` +
            `${slowest.rule.latencyMs} ms needs the CPU under ${duration(cpuAllowedAtDeployed)} at ${count(deployed.evaluate.memoryMb)} MB ` +
            `(${ratio(cpuAtDeployed / cpuAllowedAtDeployed)} × less). More memory raises the share only up to a full vCPU at ` +
            `${count(FULL_VCPU_MEMORY_MB)} MB, where the same CPU would be ${ratio(slowest.rule.cpuMs / cp)} × the critical path ` +
            `${slowest.rule.cpuMs > WALL_TARGET * cp ? '(still over the target; ' : '(within it on CPU alone; '}` +
            'the further vCPUs Lambda adds past that are of little use to a function that parses on one JavaScript thread). '
          : `On Lambda at the deployed ${count(deployed.evaluate.memoryMb)} MB the CPU alone (about ${duration(cpuAtDeployed)}, ` +
            `${ratio(cpuAtDeployed / cp)} × the critical path) would fit the target; the processing still has to stop adding to the latency. `) +
        'The calls cannot be cut further: ' +
        'DescribeInstances has no way to return fewer fields, and ComplianceTypes is the listing\'s only filter, which ' +
        'the two chains already use. What is left is less CPU per page' +
        (slowest.bounds.describe * slowest.pageCosts.describeSdkMs >= slowest.bounds.cleanup * slowest.pageCosts.cleanupSdkMs
          ? ' (of the two parts measured above, the SDK\'s handling of the DescribeInstances pages is the larger).'
          : ' (of the two parts measured above, the SDK\'s handling of the listing pages is the larger).'),
    );
  }

  if (largest !== undefined) {
    const estimate = lambdaEstimateMs(largest, largest.rule, deployed.evaluate.memoryMb);
    const bytes = largest.pageCosts.describeBytesPerInstance;
    out.push(
      `**The ${count(largest.scenario.eksNodes)}-node sweep at ${count(deployed.evaluate.memoryMb)} MB.** Each instance is ` +
        `${count(Math.round(bytes))} bytes of DescribeInstances XML (${(bytes * 1000 / 1024 / 1024).toFixed(1)} MiB a page of 1,000), ` +
        `and the SDK's parse grows with the bytes: ${duration(largest.pageCosts.describeSdkMs)} a page in the parent process. ` +
        `The function spent ${duration(largest.rule.cpuMs)} of CPU; Lambda gives a function CPU in proportion to its memory ` +
        `(one vCPU at ${count(FULL_VCPU_MEMORY_MB)} MB), so at the deployed ${count(deployed.evaluate.memoryMb)} MB the sweep would take ` +
        `about ${duration(estimate)} (its CPU at that share plus the DescribeInstances chain's waits), ${percent(estimate, deployed.evaluate.timeoutMs)} of the ` +
        `${count(deployed.evaluate.timeoutMs / 1000)} s timeout against a target of ${TIMEOUT_SHARE_TARGET * 100} %. Only an estimate: ` +
        'Lambda\'s CPU is not this one, and this machine\'s cores were shared with other work during the run (the load is ' +
        'in the first paragraph), which inflates walls much more than CPU times.',
    );
  }

  const first = measured[0];
  if (first?.rule.heap !== undefined && largest?.rule.heap !== undefined && largest !== first) {
    const naive = measured.map((row) => mib(row.naive?.heap?.peakUsed)).join(' → ');
    const growth = largest.rule.heap.peakUsed / first.rule.heap.peakUsed;
    out.push(
      `**Memory.** Peak heap ${measured.map((row) => mib(row.rule.heap?.peakUsed)).join(' → ')} and max live ` +
        `${measured.map((row) => mib(row.rule.heap?.maxLive)).join(' → ')} across the sizes, with ` +
        `${measured.map((row) => String(row.rule.heap?.gcCount ?? '–')).join(' → ')} collections: ` +
        `${growth <= HEAP_GROWTH_TARGET ? 'within' : 'over'} the ${HEAP_GROWTH_TARGET} × target (${ratio(growth)}). The sweep holds ` +
        `a DescribeInstances page (${mib(largest.pageCosts.describeBytesPerInstance * 1000)} of XML, and its parse), the batches in ` +
        'flight, a fingerprint per earlier result the listing has not matched yet and at most 10,000 verdicts waiting for ' +
        'the listing (functions/shared/config-rule/evaluator.ts); a 1,000-node fleet is a single page and needs none of ' +
        `the waiting. Under the V8 limits of ${count(deployed.evaluate.memoryMb)} MB (\`${lambdaHeapFlags(deployed.evaluate.memoryMb).join(' ')}\`) ` +
        'the collector runs late, so peak heap and even max live include garbage not yet collected: they say how much ' +
        `the function may use, not what it keeps (retained after the run: ${measured.map((row) => mib(row.rule.heap?.retainedAfter)).join(' → ')}). ` +
        `The naive baseline, which keeps every evaluation, peaks at ${naive}. ` +
        `Most of the RSS is Node and the bundle before the first event (${mib(largest.rule.rssAfterLoad)}); the ` +
        `${count(largest.scenario.eksNodes)}-node peak of ${mib(largest.rule.maxRssBytes)} leaves ` +
        `${mib(megabytes(deployed.evaluate.memoryMb) - largest.rule.maxRssBytes)} of the deployed ${count(deployed.evaluate.memoryMb)} MB, ` +
        'which is sized for CPU, not memory.',
    );
  }

  const withNaive = measured.filter((row) => row.naive !== undefined).at(-1);
  const naiveRun = withNaive?.naive;
  if (withNaive !== undefined && naiveRun !== undefined) {
    const largest = { ...withNaive, naive: naiveRun };
    const ours = totalRequests(largest.rule);
    const theirs = totalRequests(largest.naive);
    const difference = (op: string) => requested(largest.rule, op) - requested(largest.naive as RunMeasure, op);
    const signed = (n: number) => (n > 0 ? `${count(n)} more` : n < 0 ? `${count(-n)} fewer` : 'as many');
    const why = (n: number, reason: string) => (n === 0 ? '' : ` (${reason})`);
    const split =
      `${signed(difference(OPS.describe))} DescribeInstances pages` +
      why(difference(OPS.describe), 'EC2 filters out the non-EKS and terminated instances') +
      `, ${signed(difference(OPS.put))} puts and ${signed(difference(OPS.cleanup))} listing calls` +
      why(
        difference(OPS.cleanup),
        'two chains, each ending with a partial page, over results that still include the terminated nodes, which the ' +
          'naive sweep has already turned NOT_APPLICABLE when it lists',
      );
    out.push(
      `**Calls against the naive baseline.** ${count(ours)} against ${count(theirs)} at ${count(largest.scenario.eksNodes)} nodes: ` +
        `${split}. PutEvaluations and the listing, both about ⌈N / 100⌉, dominate either count. What ` +
        'filtering, streaming and the overlap buy is time ' +
        `(${ratio(largest.rule.wallMs / largest.naive.wallMs)} × the naive wall at ${count(largest.scenario.eksNodes)}) and a heap ` +
        'that does not hold the fleet\'s evaluations.',
    );
  }

  const rested = result.remediation.find((r) => r.scenario === 'rested');
  const drained = result.remediation.find((r) => r.scenario === 'drained');
  const anyRun = rested ?? drained;
  if (anyRun !== undefined) {
    const perInvocation = (run: RemediationRun) => (run.wallMs * run.concurrency) / run.nodes;
    const runs = [rested, drained].filter((r): r is RemediationRun => r !== undefined);
    const tagRate = (run: RemediationRun) => (run.succeededPerNode.tag * run.nodes) / (run.wallMs / 1000);
    out.push(
      `**Remediation.** ${anyRun.concurrency} execution environments at once (template.yaml). ` +
        runs
          .map(
            (run) =>
              `With a ${run.scenario} bucket: ${duration(run.wallMs)} for ${count(run.nodes)} nodes, ${duration(perInvocation(run))} per ` +
              `invocation on average (wall × concurrency / nodes), ${perSecond(modifyRate(run))} ModifyInstanceMetadataOptions ` +
              `against the refill of ${MODIFY_BUCKET.refillPerSecond}/s, ${count(run.throttled)} throttles absorbed by the SDK's ` +
              `retries and ${run.errorsEscaping} escaping.`,
          )
          .join(' ') +
        ` Each remediated node costs ${anyRun.lowerBoundPerNode.tag} CreateTags calls (the ledger tag before the change and once ` +
        `the notification is out): ${perSecond(tagRate(anyRun))} in the ${anyRun.scenario} run. AWS-FACTS, the project's record of ` +
        'AWS limits, gives no bucket for CreateTags, so the benchmark leaves it unthrottled; EC2 does throttle its ' +
        'mutating calls, and if CreateTags\' bucket is tighter than that rate, it, not ModifyInstanceMetadataOptions, ' +
        'sets the pace (the SDK would absorb the throttles, but the storm would take longer than measured here).',
    );
  }
  return out;
}

const METHOD = [
  '- **Lower bounds** (functions/shared/config-rule/evaluator.ts, `sweepAndCleanUp`). DescribeInstances: ⌈live nodes / 1,000⌉ ' +
    'pages, at least 1 (non-EKS and terminated instances are filtered by EC2 and cost nothing). GetComplianceDetailsByConfigRule: ' +
    'one paginator per compliance type, 100 results a page, so ⌈C / 100⌉ + ⌈NC / 100⌉ with at least one page each; the ' +
    'API cannot filter by timestamp, so finding stale results means reading every earlier result, and a first sweep on ' +
    'an empty Config still makes the two calls. PutEvaluations: ⌈(live nodes + stale results) / 100⌉, the stale results ' +
    'joining the sweep\'s last batch. DescribeConfigurationRecorders and DescribeConfigurationRecorderStatus: one each, ' +
    'beside the chains (the sweep\'s recorder awareness).',
  '- **Critical path.** With latency L per call, each chain is a paginator whose next request needs the previous ' +
    'answer\'s token; the puts overlap the pages (up to 10 in flight), and the final put, with the last partial batch ' +
    'and the stale results, needs all three chains finished: (max(D, ⌈C / 100⌉, ⌈NC / 100⌉) + 1) × L.',
  '- **Counting.** `emulator.requests` per operation, reset before each run: every request the function sent, throttled ' +
    'ones included. The call target also requires the run to have swept every live node and retired every terminated one.',
  '- **Naive baseline** (bench/naive-rule.ts, bundled the same way): DescribeInstances with no filters, 1,000 a page; ' +
    'every instance judged with the shared judgeInstance; every evaluation for a node kept in an array, then ' +
    'PutEvaluations 100 at a time, one after another; then one listing of both compliance types, sequential. Terminated ' +
    'nodes are reported NOT_APPLICABLE by the sweep itself, so it has no stale results to write.',
  '- **Memory.** The function runs in a forked process (bench/worker.ts, built to JavaScript so Node\'s type stripper ' +
    'is not loaded) that imports the built bundle, like a Lambda execution environment; the heap is settled with a full ' +
    'GC before the event.',
  '- **Throttling.** The emulator\'s `tokenBucket` fault (emulator/faults.ts): a request the other faults let through ' +
    'takes a token, and one that finds the bucket empty is answered with the service\'s throttling error ' +
    '(RequestLimitExceeded for EC2) and takes none. The sweeps run with the DescribeInstances bucket, the remediation with ' +
    'the DescribeInstances and ModifyInstanceMetadataOptions buckets (bench/ec2-buckets.ts). Remediation events are the ' +
    'emulator\'s own compliance-change events from a sweep, each in an SQS batch of one; an invocation that throws or ' +
    'reports the message as failed counts as an escaped error (SQS would redeliver it).',
  '- **Deployed settings.** MemorySize and Timeout of each function and the RemediationMaxConcurrency default are read ' +
    'from template.yaml for every run.',
  '- **Sizes.** Above 10,000 nodes only the rule runs, at the injected latency, twice (first and second sweep): the ' +
    'zero-latency and naive runs add minutes there and nothing new. The page costs are timed on the first ten ' +
    'DescribeInstances pages and the first hundred listing pages of each size.',
  '- **Flags.** `npm run bench -- --sizes 1000,10000,50000,100000 --latency 25`; `--quick` (1,500 nodes, fewer events, what ' +
    "CI's test runs at latency 0); `--no-write` leaves this file alone; `--worker-args '--cpu-prof --cpu-prof-dir=/tmp/prof'` " +
    'profiles every function process.',
];
