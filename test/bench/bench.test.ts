// Keeps `npm run bench` working: the whole benchmark at a tiny size and no latency. Only call
// counts are asserted (they are exact); times depend on the machine and are never checked.
import { beforeAll, describe, expect, it } from 'vitest';
import { QUICK_OPTIONS, runBenchmark, type BenchResult } from '../../bench/benchmark.ts';
import { REMEDIATION_OPS } from '../../bench/remediation.ts';
import { checkTargets, renderReport } from '../../bench/report.ts';
import { lowerBounds, OPS } from '../../bench/sweep.ts';
import { loadTemplate, props, section } from '../infra/templates.ts';

let result: BenchResult;

beforeAll(async () => {
  result = await runBenchmark({
    ...QUICK_OPTIONS,
    sizes: [1_500],
    latencyMs: 0,
    zeroLatencyRun: false,
    coldStartRuns: 1,
    sourceColdStartRuns: 0,
  });
}, 240_000);

describe('sweep', () => {
  it('sweeps 1,500 nodes among 1,800 instances, 15 of them terminated since the last sweep', () => {
    expect(result.sweeps.map((row) => row.scenario)).toEqual([
      { eksNodes: 1_500, nonEks: 300, terminated: 15, live: 1_485, previousResults: 1_500, previousCompliant: 1_000 },
    ]);
  });

  it('makes exactly the lower bound of calls per operation', () => {
    const [row] = result.sweeps;
    expect(row?.bounds).toEqual(lowerBounds(row!.scenario));
    // 1,485 live + 15 stale evaluations in 15 puts; 1,000 COMPLIANT, 500 NON_COMPLIANT and no
    // NOT_APPLICABLE results in three chains.
    expect(row?.bounds).toEqual({
      describe: 2,
      put: 15,
      compliantPages: 10,
      nonCompliantPages: 5,
      notApplicablePages: 1,
      cleanup: 16,
      recorder: 2,
      total: 35,
      criticalPathCalls: 11,
      sequentialCalls: 19,
    });
    expect(row?.rule.error).toBeUndefined();
    expect(row?.rule.requests).toEqual({ [OPS.describe]: 2, [OPS.put]: 15, [OPS.cleanup]: 16, [OPS.recorder]: 1, [OPS.recorderStatus]: 1 });
    expect(row?.rule.summary).toMatchObject({ swept: 1_485, cleanedUp: 15 });
  });

  it('bills every changed result on the first sweep and nothing on a second sweep of the unchanged fleet', () => {
    const [row] = result.sweeps;
    // 1,485 live nodes whose annotation differs from the seeded one, and 15 terminated nodes retired.
    expect(row?.rule.billed).toBe(1_500);
    expect(row?.again.error).toBeUndefined();
    expect(row?.again.billed).toBe(0);
    expect(row?.again.requests[OPS.put]).toBeUndefined();
    expect(row?.again.summary).toMatchObject({ swept: 1_485, unchanged: 1_485, cleanedUp: 0 });
  });

  it('describes realistic EKS nodes, about 10 KB of XML each', () => {
    expect(result.sweeps[0]?.pageCosts.describeBytesPerInstance).toBeGreaterThan(10_000);
  });

  it('counts at least one page per chain and no final put when there is nothing to write', () => {
    const empty = { eksNodes: 0, nonEks: 0, terminated: 0, live: 0, previousResults: 0, previousCompliant: 0 };
    expect(lowerBounds(empty)).toMatchObject({ describe: 1, put: 0, cleanup: 3, recorder: 2, total: 6, criticalPathCalls: 1, sequentialCalls: 4 });
    const listingBound = { eksNodes: 1_000, nonEks: 0, terminated: 10, live: 990, previousResults: 5_000, previousCompliant: 4_200 };
    expect(lowerBounds(listingBound)).toMatchObject({ describe: 1, put: 10, compliantPages: 42, nonCompliantPages: 8, criticalPathCalls: 43 });
  });

  it('runs the naive baseline over every instance, filters and all', () => {
    const [row] = result.sweeps;
    expect(row?.naive?.error).toBeUndefined();
    expect(row?.naive?.requests).toEqual({ [OPS.describe]: 2, [OPS.put]: 15, [OPS.cleanup]: 15 });
    expect(row?.naive?.summary).toEqual({ described: 1_800, evaluated: 1_500, cleanedUp: 0 });
  });

  it('times the SDK and the emulator on the sweep\'s own pages', () => {
    const costs = result.sweeps[0]?.pageCosts;
    for (const value of Object.values(costs ?? {})) expect(value).toBeGreaterThan(0);
  });

  it('measures memory in the function process', () => {
    const heap = result.sweeps[0]?.rule.heap;
    expect(heap?.peakUsed).toBeGreaterThanOrEqual(heap?.startUsed ?? Infinity);
    expect(result.sweeps[0]?.rule.maxRssBytes).toBeGreaterThan(0);
  });
});

describe('change-triggered evaluation', () => {
  it('costs no EC2 call and one PutEvaluations per event', () => {
    expect(result.change).toMatchObject({ events: 20, ec2Calls: 0, configCalls: 1, otherCalls: 0, failures: 0 });
  });
});

describe('remediation', () => {
  it('runs as template.yaml deploys RemediateFunction', () => {
    const remediate = props(loadTemplate('sam'), 'RemediateFunction');
    expect(result.deployed.remediate).toMatchObject({ memoryMb: remediate['MemorySize'], timeoutMs: Number(remediate['Timeout']) * 1000 });
    // The SQS event source mapping's MaximumConcurrency, as the stack deploys it by default.
    const maxConcurrency = section(loadTemplate('sam'), 'Parameters')['RemediationMaxConcurrency'] as { Default: number };
    for (const run of result.remediation) expect(run.concurrency).toBe(maxConcurrency.Default);
    const evaluate = props(loadTemplate('sam'), 'EvaluateFunction');
    expect(result.deployed.evaluate).toMatchObject({ memoryMb: evaluate['MemorySize'], timeoutMs: Number(evaluate['Timeout']) * 1000 });
  });

  it.each(['rested', 'drained'] as const)('with a %s bucket fixes every node with the fewest successful calls', (scenario) => {
    const run = result.remediation.find((r) => r.scenario === scenario);
    expect(run).toMatchObject({ nodes: 10, errorsEscaping: 0, outcomes: { remediated: 10 } });
    for (const op of Object.keys(REMEDIATION_OPS) as (keyof typeof REMEDIATION_OPS)[]) {
      expect(run?.succeededPerNode[op], op).toBeCloseTo(run?.lowerBoundPerNode[op] ?? Number.NaN, 9);
    }
  });
});

describe('report', () => {
  it('renders every table and a verdict for every call-count target', () => {
    const report = renderReport(result, { command: 'vitest' });
    for (const heading of ['## Targets', '## Sweep: calls', '## Sweep: wall time', '## Sweep: memory', '## Change-triggered evaluation', '## Remediation', '## Bundles', '## Method']) {
      expect(report).toContain(heading);
    }
    expect(report).toMatch(/\| 1,500 \| 1,800 \| 1,000 \+ 500 \| 2 \/ 2 \| 15 \/ 15 \| 16 \/ 16 \(10 \+ 5 \+ 1\) \| 2 \/ 2 \| 35 \/ 35 = 1\.00 \|/);
    expect(report).toContain('## Sweep: billed evaluations, first and second sweep');
    expect(report).not.toMatch(/overlapped-rule|prototype/);
    const callTargets = checkTargets(result).filter((c) => /\bcalls?\b/.test(c.target));
    expect(callTargets.length).toBeGreaterThanOrEqual(4);
    expect(callTargets.filter((c) => !c.met)).toEqual([]);
  });
});
