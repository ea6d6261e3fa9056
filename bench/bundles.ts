import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS, buildBundles, FUNCTIONS, REPO_ROOT, type FunctionName } from '../scripts/build.ts';
import { median } from './stats.ts';

const run = promisify(execFile);

export interface BuiltBundles {
  readonly dir: string;
  readonly functions: ReadonlyArray<{ name: FunctionName; file: string; bytes: number; mapBytes: number; source: string }>;
  /** bench/naive-rule.ts bundled the same way, so its memory compares like for like. */
  readonly naive: string;
  /** bench/worker.ts as plain JavaScript. */
  readonly worker: string;
  remove(): Promise<void>;
}

/**
 * Builds the functions with the project's own build (scripts/build.ts), into a temporary
 * directory so dist/ is left as it is, plus the baseline and the worker with the same esbuild
 * options.
 */
export async function buildForBenchmark(): Promise<BuiltBundles> {
  const dir = await mkdtemp(join(tmpdir(), 'eks-imds-guard-bench-'));
  const benchDir = join(dir, 'bench');
  let built: Awaited<ReturnType<typeof buildBundles>>;
  try {
    built = await buildBundles(dir);
    await mkdir(benchDir, { recursive: true });
    await build({
      ...BUNDLE_OPTIONS,
      mainFields: [...BUNDLE_OPTIONS.mainFields],
      external: [...BUNDLE_OPTIONS.external],
      absWorkingDir: REPO_ROOT,
      entryPoints: ['bench/naive-rule.ts', 'bench/worker.ts'],
      outdir: benchDir,
      logLevel: 'warning',
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const sourceOf = (name: FunctionName) => join(REPO_ROOT, FUNCTIONS.find((fn) => fn.name === name)?.entry ?? '');
  return {
    dir,
    functions: built.map((b) => ({ ...b, source: sourceOf(b.name) })),
    naive: join(benchDir, 'naive-rule.mjs'),
    worker: join(benchDir, 'worker.mjs'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface ColdStart {
  readonly runs: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
}

export interface BundleRow {
  readonly name: FunctionName;
  readonly bytes: number;
  readonly mapBytes: number;
  readonly bundle: ColdStart;
  /** The same handler from source (.ts through Node's type stripping, SDK from node_modules). */
  readonly source: ColdStart | undefined;
}

// Only the import is timed: process start-up is the Lambda runtime's, not the function's.
const IMPORT_TIMER = 'const t = performance.now(); await import(process.env.BENCH_MODULE); console.log(performance.now() - t);';

/** Module init time of `module` in `runs` fresh processes, each importing it once. */
export async function measureColdStart(module: string, runs: number, env: Record<string, string>): Promise<ColdStart> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', IMPORT_TIMER], {
      env: { PATH: process.env.PATH ?? '', ...env, BENCH_MODULE: pathToFileURL(module).href },
      cwd: REPO_ROOT,
    });
    times.push(Number(stdout.trim()));
  }
  return { runs, medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times) };
}

export async function measureBundles(
  bundles: BuiltBundles,
  options: { runs: number; sourceRuns: number; env: Record<string, string> },
): Promise<BundleRow[]> {
  const rows: BundleRow[] = [];
  for (const fn of bundles.functions) {
    const bundle = await measureColdStart(fn.file, options.runs, options.env);
    const source = options.sourceRuns > 0 ? await measureColdStart(fn.source, options.sourceRuns, options.env) : undefined;
    rows.push({ name: fn.name, bytes: (await stat(fn.file)).size, mapBytes: fn.mapBytes, bundle, source });
  }
  return rows;
}
