// Bundles each Lambda function exactly as `sam build` does (template.yaml Metadata), so the
// zips the organization StackSet deploys and the SAM deployment run the same code.
import { build } from 'esbuild';
import type { BuildOptions } from 'esbuild';
import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Each deployable function: its folder name under dist/ and its entry point (repo-relative). */
export const FUNCTIONS = [
  { name: 'evaluate-imds', entry: 'functions/evaluate-imds/handler.ts', samResource: 'EvaluateFunction' },
  { name: 'evaluate-sources', entry: 'functions/evaluate-sources/handler.ts', samResource: 'EvaluateSourcesFunction' },
  { name: 'remediate-imds', entry: 'functions/remediate-imds/handler.ts', samResource: 'RemediateFunction' },
] as const;

export type FunctionName = (typeof FUNCTIONS)[number]['name'];

/** The output file name esbuild gives a single entry `handler.ts` with OUT_EXTENSION. */
export const BUNDLE_FILE = 'handler.mjs';

// esbuild's CommonJS-to-ESM interop leaves `require()` calls for Node built-ins in CJS
// dependencies; an ESM bundle has no `require`, so the banner creates one.
const REQUIRE_BANNER =
  "import { createRequire as topLevelCreateRequire } from 'node:module';const require = topLevelCreateRequire(import.meta.url);";

/**
 * The esbuild settings. template.yaml's `Metadata.BuildProperties` must say the same thing
 * (test/infra/build.test.ts compares them); SAM always adds `--bundle --platform=node`.
 * Nothing is external: the Lambda runtime's bundled AWS SDK version is not ours to pick.
 */
export const BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  minify: true,
  sourcemap: true,
  // Stack traces need the mappings and names, not the sources: without them the maps are 2.5x
  // smaller (5.8 -> 2.3 MB, docs/deployment.md) and the zips carry no copy of the source.
  sourcesContent: false,
  mainFields: ['module', 'main'],
  outExtension: { '.js': '.mjs' },
  banner: { js: REQUIRE_BANNER },
  external: [],
} as const satisfies BuildOptions;

export interface BundleResult {
  readonly name: FunctionName;
  readonly file: string;
  readonly bytes: number;
  readonly mapBytes: number;
}

/** Builds every function into `<outDir>/<name>/handler.mjs` (+ `.map`). */
export async function buildBundles(outDir = join(REPO_ROOT, 'dist')): Promise<BundleResult[]> {
  const results: BundleResult[] = [];
  for (const fn of FUNCTIONS) {
    const fnOutDir = join(outDir, fn.name);
    await rm(fnOutDir, { recursive: true, force: true });
    await mkdir(fnOutDir, { recursive: true });
    await build({
      ...BUNDLE_OPTIONS,
      mainFields: [...BUNDLE_OPTIONS.mainFields],
      external: [...BUNDLE_OPTIONS.external],
      absWorkingDir: REPO_ROOT,
      entryPoints: [fn.entry],
      outdir: fnOutDir,
      logLevel: 'warning',
    });
    const file = join(fnOutDir, BUNDLE_FILE);
    results.push({
      name: fn.name,
      file,
      bytes: (await stat(file)).size,
      mapBytes: (await stat(`${file}.map`)).size,
    });
  }
  return results;
}

export function formatSize(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

if (import.meta.main) {
  try {
    for (const bundle of await buildBundles()) {
      console.log(`${bundle.name}: ${bundle.file} ${formatSize(bundle.bytes)} (source map ${formatSize(bundle.mapBytes)})`);
    }
  } catch (error) {
    console.error(`build failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
