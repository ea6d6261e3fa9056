// Keeps `npm run bench` working: the whole benchmark at a tiny size and no latency. Only call
// counts are asserted (they are exact); times depend on the machine and are never checked.
import { beforeAll, describe, expect, it } from 'vitest';
import { QUICK_OPTIONS, runBenchmark, type BenchResult } from '../../bench/benchmark.ts';
import { REMEDIATION_OPS } from '../../bench/remediation.ts';
import { checkTargets, renderReport } from '../../bench/report.ts';
import { lowerBounds, OPS } from '../../bench/sweep.ts';

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
    expect(row?.bounds).toMatchObject({ describe: 2, put: 16, cleanup: 15, total: 33 });
    expect(row?.rule.error).toBeUndefined();
    expect(row?.rule.requests).toEqual({ [OPS.describe]: 2, [OPS.put]: 16, [OPS.cleanup]: 15 });
    expect(row?.rule.summary).toMatchObject({ swept: 1_485, cleanedUp: 15 });
  });

  it('runs the naive baseline over every instance, filters and all', () => {
    const [row] = result.sweeps;
    expect(row?.naive?.error).toBeUndefined();
    expect(row?.naive?.requests).toEqual({ [OPS.describe]: 2, [OPS.put]: 15, [OPS.cleanup]: 15 });
    expect(row?.naive?.summary).toEqual({ described: 1_800, evaluated: 1_500, cleanedUp: 0 });
  });

  it('runs the prototype of the recommended change with no more calls than the rule', () => {
    const [row] = result.sweeps;
    expect(row?.overlapped?.error).toBeUndefined();
    expect(row?.overlappedBounds).toMatchObject({ describe: 2, put: 15, cleanup: 15, total: 32 });
    expect(row?.overlapped?.requests).toEqual({ [OPS.describe]: 2, [OPS.put]: 15, [OPS.cleanup]: 15 });
    expect(row?.overlapped?.summary).toEqual({ swept: 1_485, cleanedUp: 15 });
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
    expect(report).toMatch(/\| 1,500 \| 1,800 \| 2 \/ 2 \| 16 \/ 16 \| 15 \/ 15 \| 33 \/ 33 = 1\.00 \|/);
    const callTargets = checkTargets(result).filter((c) => /\bcalls?\b/.test(c.target));
    expect(callTargets.length).toBeGreaterThanOrEqual(4);
    expect(callTargets.filter((c) => !c.met)).toEqual([]);
  });
});
