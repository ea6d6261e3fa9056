/**
 * `npm run bench`: the sweep, change-triggered evaluation, remediation and bundles measured on
 * the loopback emulator; prints the report and writes it to docs/benchmarks.md.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../scripts/build.ts';
import { DEFAULT_OPTIONS, QUICK_OPTIONS, runBenchmark, type BenchOptions } from './benchmark.ts';
import { SECTION_END, SECTION_START, withSection } from './fast-path.ts';
import { QUIET_TELEMETRY } from './lambda.ts';
import { renderReport } from './report.ts';

const USAGE = `usage: npm run bench -- [--sizes 1000,10000,50000] [--latency 25] [--quick] [--no-write] [--worker-args '<node flags>']`;

function parseOptions(argv: string[]): { options: BenchOptions; write: boolean } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      sizes: { type: 'string' },
      latency: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      'worker-args': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const base = values.quick ? QUICK_OPTIONS : DEFAULT_OPTIONS;
  const sizes = values.sizes === undefined ? base.sizes : values.sizes.split(',').map((s) => wholeNumber('--sizes', s.replace(/_/g, '')));
  if (sizes.length === 0 || sizes.some((n) => n < 1)) throw new Error('--sizes needs at least one size of 1 or more');
  const latencyMs = values.latency === undefined ? base.latencyMs : wholeNumber('--latency', values.latency);
  const workerArgs = values['worker-args']?.split(/\s+/).filter(Boolean) ?? [];
  return { options: { ...base, sizes: [...sizes].sort((a, b) => a - b), latencyMs, workerArgs }, write: !values['no-write'] };
}

function wholeNumber(flag: string, text: string): number {
  const n = Number(text.trim());
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}: "${text}" is not a whole number`);
  return n;
}

let parsed: ReturnType<typeof parseOptions>;
try {
  parsed = parseOptions(process.argv.slice(2));
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}

Object.assign(process.env, QUIET_TELEMETRY);
const command = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
const result = await runBenchmark(parsed.options, (line) => console.error(line));
const report = renderReport(result, { command });
console.log(report);
if (parsed.write) {
  const file = join(REPO_ROOT, 'docs', 'benchmarks.md');
  // The fast-path section comes from its own run (npm run bench:fast-path): carried over as it is.
  const previous = await readFile(file, 'utf8').catch(() => '');
  const start = previous.indexOf(SECTION_START);
  const end = previous.indexOf(SECTION_END);
  await writeFile(file, start === -1 || end === -1 ? report : withSection(report, previous.slice(start, end + SECTION_END.length)));
  console.error(`written to ${file}`);
}
