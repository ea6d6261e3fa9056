import { describe, expect, it } from 'vitest';
import { MEASURED, renderCostTables, SIZES } from '../../bench/cost.ts';
import {
  changeTriggeredEvaluations,
  configEvaluationsUsd,
  evaluationsWrittenBySweeps,
  FREQUENCIES,
  monthlyRow,
  unchangedChangeEvaluations,
  type FleetAssumptions,
} from '../../bench/cost-model.ts';

describe('configEvaluationsUsd (tiered per account and region a month)', () => {
  it.each([
    [0, 0],
    [50_000, 50],
    [100_000, 100],
    [500_000, 100 + 320],
    // The example: 50,000 nodes swept daily, "roughly $900".
    [1_500_000, 100 + 320 + 500],
  ])('%d evaluations cost $%d', (evaluations, usd) => {
    expect(configEvaluationsUsd(evaluations)).toBeCloseTo(usd, 6);
  });
});

describe('monthlyRow', () => {
  const still: FleetAssumptions = { churnPerDay: 0, changesPerDay: 0, itemsPerReplacedNode: 0, itemsPerNodePerDay: 0 };

  it('bills one evaluation per node per sweep before, and nothing for an unchanged fleet after', () => {
    const row = monthlyRow(10_000, 'One_Hour', MEASURED, still);
    expect(row).toMatchObject({ sweeps: 720, sweepEvaluationsBefore: 7_200_000, sweepEvaluationsAfter: 0, changeTriggered: 0, configUsdAfter: 0 });
    expect(row.configUsdBefore).toBeCloseTo(configEvaluationsUsd(7_200_000), 6);
  });

  it('makes what the sweeps write after the change independent of how often they run', () => {
    const after = (Object.keys(FREQUENCIES) as (keyof typeof FREQUENCIES)[]).map((f) => monthlyRow(50_000, f, MEASURED).configUsdAfter);
    expect(new Set(after).size).toBe(1);
    expect(monthlyRow(50_000, 'One_Hour', MEASURED).configUsdBefore).toBeGreaterThan(monthlyRow(50_000, 'TwentyFour_Hours', MEASURED).configUsdBefore);
  });

  it('counts every new, retired and changed result once, and the managed pair twice per configuration item', () => {
    const a: FleetAssumptions = { churnPerDay: 0.1, changesPerDay: 0.02, itemsPerReplacedNode: 3, itemsPerNodePerDay: 0.5 };
    // 30 days × 1,000 nodes × (2 × 0.1 + 0.02), × (0.1 × 3 + 0.5), and the difference.
    expect(evaluationsWrittenBySweeps(1_000, a)).toBe(6_600);
    expect(changeTriggeredEvaluations(1_000, a)).toBe(24_000);
    expect(unchangedChangeEvaluations(1_000, a)).toBe(17_400);
    expect(monthlyRow(1_000, 'Six_Hours', MEASURED, a).managedEvaluations).toBe(2 * 24_000);
  });

  it('prices a sweep that writes nothing with the reading sweep time, per node and memory', () => {
    const row = monthlyRow(100_000, 'TwentyFour_Hours', { memoryMb: 2048, writingSweepMsPer1000: 3000, readingSweepMsPer1000: 1000, changeInvocationMs: 0 }, still);
    expect(row.lambdaGbSecondsBefore).toBeCloseTo(30 * 100 * 3 * 2, 6);
    expect(row.lambdaGbSecondsAfter).toBeCloseTo(30 * 100 * 1 * 2, 6);
  });
});

it('renders a row for every fleet size and EvaluationFrequency', () => {
  const rows = renderCostTables().split('\n').filter((line) => /^\| [\d,]+ \| \w+_Hours? \|/.test(line));
  expect(rows).toHaveLength(SIZES.length * Object.keys(FREQUENCIES).length);
});
