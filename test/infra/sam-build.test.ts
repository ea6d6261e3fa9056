// `sam build` as SAM CLI's esbuild builder (aws-lambda-builders, NodejsNpmEsbuildBuilder) runs it:
// copy the project without node_modules to a scratch folder, install the production
// dependencies there (`npm ci`, UseNpmCi), then run the esbuild found in that folder with the
// arguments it derives from each function's BuildProperties. No SAM CLI here: this follows the
// builder's documented steps with the real npm and esbuild.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS, REPO_ROOT } from '../../scripts/build.ts';
import { loadTemplate, resource } from './templates.ts';
import type { JsonObject } from './templates.ts';

const run = promisify(execFile);
const sam = loadTemplate('sam');
const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** What the builder leaves out of its copy (EXCLUDED_FILES plus node_modules), and our own outputs. */
const NOT_COPIED = new Set(['.git', '.aws-sam', 'node_modules', 'dist', 'coverage']);

/** Registry trouble, as npm reports it: only then is the test skipped. */
const UNREACHABLE = /E(NOTFOUND|AI_AGAIN|CONNREFUSED|CONNRESET|TIMEDOUT|NETUNREACH)|network|socket hang up/i;

/** The builder's flag kinds (esbuild.py): booleans when true, `--k=v`, and `--k:v` per list item. */
const BOOLEAN = ['minify', 'sourcemap'];
const SINGLE = ['target', 'format', 'main_fields', 'sources_content'];
const MULTI = ['external', 'loader', 'out_extension', 'banner'];

const snake = (name: string) => name.replace(/(?<!^)([A-Z])/g, '_$1').toLowerCase();
const kebab = (name: string) => name.replace(/_/g, '-');

/** The esbuild command line the builder makes for one function's BuildProperties. */
function esbuildArgs(properties: JsonObject, outdir: string): string[] {
  const config = Object.fromEntries(Object.entries(properties).map(([key, value]) => [snake(key), value]));
  const args = ['--bundle', '--platform=node', `--outdir=${outdir}`];
  if (!('target' in config)) args.push('--target=es2020');
  if (!('format' in config)) args.push('--format=cjs');
  if (!('minify' in config)) args.push('--minify');
  for (const key of BOOLEAN) if (config[key] === true) args.push(`--${kebab(key)}`);
  // Python formats the value with str(): a YAML boolean would become "True"/"False".
  const str = (value: unknown) => (typeof value === 'boolean' ? (value ? 'True' : 'False') : String(value));
  for (const key of SINGLE) if (key in config) args.push(`--${kebab(key)}=${str(config[key])}`);
  for (const key of MULTI) if (Array.isArray(config[key])) for (const item of config[key] as unknown[]) args.push(`--${kebab(key)}:${String(item)}`);
  args.push(...(config['entry_points'] as string[]));
  return args;
}

let scratch: string;
let installed: { ok: true } | { ok: false; reason: string; unreachable: boolean };

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'eks-imds-guard-sam-build-'));
  await cp(REPO_ROOT, scratch, { recursive: true, filter: (source) => !NOT_COPIED.has(source.slice(REPO_ROOT.length + 1).split('/')[0] ?? '') });
  try {
    await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: scratch, timeout: 240_000, env: { ...process.env, NODE_ENV: 'production' } });
    installed = { ok: true };
  } catch (error) {
    const text = `${(error as { stderr?: string }).stderr ?? ''} ${(error as Error).message}`;
    installed = { ok: false, reason: text.trim().split('\n').slice(-3).join(' '), unreachable: UNREACHABLE.test(text) };
  }
}, 300_000);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

function requireInstall(skip: (note: string) => void): void {
  if (installed.ok) return;
  if (installed.unreachable) {
    console.warn(`sam-build test skipped: the npm registry is unreachable (${installed.reason})`);
    skip('npm registry unreachable');
    return;
  }
  throw new Error(`npm ci --omit=dev failed in the scratch copy: ${installed.reason}`);
}

describe('sam build (esbuild builder, UseNpmCi)', () => {
  it('finds esbuild in the scratch folder after a production-only npm ci', async ({ skip }) => {
    requireInstall(skip);
    const esbuild = join(scratch, 'node_modules', '.bin', 'esbuild');
    expect(existsSync(esbuild)).toBe(true);
    const { stdout } = await run(esbuild, ['--version']);
    expect(stdout.trim()).toBe(manifest.dependencies['esbuild']);
    // Only production dependencies were installed: the builder would not find a devDependency.
    expect(existsSync(join(scratch, 'node_modules', 'vitest'))).toBe(false);
    expect(manifest.devDependencies['esbuild']).toBeUndefined();
  });

  it.for(FUNCTIONS)('bundles $samResource with the arguments its BuildProperties give, into a loadable handler', { timeout: 180_000 }, async (fn, { skip }) => {
    requireInstall(skip);
    const properties = resource(sam, fn.samResource).Metadata?.['BuildProperties'] as JsonObject;
    expect(properties['UseNpmCi']).toBe(true);
    const outdir = join(scratch, '.aws-sam', 'build', fn.samResource);
    await run(join(scratch, 'node_modules', '.bin', 'esbuild'), esbuildArgs(properties, outdir), { cwd: scratch, timeout: 120_000 });

    const handler = join(outdir, 'handler.mjs');
    const module = (await import(pathToFileURL(handler).href)) as Record<string, unknown>;
    expect(typeof module['handler']).toBe('function');
    const map = JSON.parse(await readFile(`${handler}.map`, 'utf8')) as { sourcesContent?: unknown; mappings: string };
    expect(map.sourcesContent).toBeUndefined();
    expect(map.mappings.length).toBeGreaterThan(0);
  });
});
