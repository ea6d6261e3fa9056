// The bundles `npm run build` makes are the ones `sam build` makes, and each function's Handler
// resolves to the bundle's exported handler.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_FILE, BUNDLE_OPTIONS, FUNCTIONS, REPO_ROOT, buildBundles } from '../../scripts/build.ts';
import type { BundleResult } from '../../scripts/build.ts';
import { isObject, loadTemplate, props, resource } from './templates.ts';

const sam = loadTemplate('sam');
const member = loadTemplate('member');

/** What SAM's esbuild builder runs for these BuildProperties (it always adds --bundle --platform=node). */
function samBuildProperties() {
  return {
    Format: BUNDLE_OPTIONS.format,
    Target: BUNDLE_OPTIONS.target,
    Minify: BUNDLE_OPTIONS.minify,
    Sourcemap: BUNDLE_OPTIONS.sourcemap,
    SourcesContent: String(BUNDLE_OPTIONS.sourcesContent),
    MainFields: BUNDLE_OPTIONS.mainFields.join(','),
    OutExtension: Object.entries(BUNDLE_OPTIONS.outExtension).map(([from, to]) => `${from}=${to}`),
    Banner: Object.entries(BUNDLE_OPTIONS.banner).map(([kind, text]) => `${kind}=${text}`),
    UseNpmCi: true,
  };
}

const expectedHandler = `${basename(BUNDLE_FILE, '.mjs')}.handler`;

describe.each(FUNCTIONS)('$samResource', (fn) => {
  it('is built by SAM with the esbuild options scripts/build.ts uses', () => {
    const metadata = resource(sam, fn.samResource).Metadata;
    expect(metadata?.['BuildMethod']).toBe('esbuild');
    expect(metadata?.['BuildProperties']).toEqual({ EntryPoints: [fn.entry], ...samBuildProperties() });
    expect(BUNDLE_OPTIONS).toMatchObject({ bundle: true, platform: 'node', external: [] });
  });

  it('points Handler at the bundle in both templates', () => {
    // CodeUri is the repository root so esbuild can reach functions/shared; a single entry point
    // is written to the output directory's root under its own base name.
    expect(props(sam, fn.samResource)).toMatchObject({ CodeUri: './', Handler: expectedHandler, Runtime: 'nodejs24.x' });
    expect(props(member, fn.samResource)).toMatchObject({ Handler: expectedHandler, Runtime: 'nodejs24.x' });
    expect(basename(fn.entry, '.ts')).toBe(basename(BUNDLE_FILE, '.mjs'));
  });

  it('sets NODE_OPTIONS so the source maps are used', () => {
    const env = props(sam, fn.samResource)['Environment'];
    expect(isObject(env) && isObject(env['Variables']) ? env['Variables']['NODE_OPTIONS'] : undefined).toBe('--enable-source-maps');
  });
});

describe('npm run build', () => {
  let outDir: string;
  let bundles: BundleResult[] = [];
  let failure: unknown;

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'eks-imds-guard-build-'));
    const missing = FUNCTIONS.filter((f) => !existsSync(join(REPO_ROOT, f.entry))).map((f) => f.entry);
    if (missing.length > 0) {
      failure = new Error(`cannot build: ${missing.join(', ')} missing`);
      return;
    }
    try {
      bundles = await buildBundles(outDir);
    } catch (error) {
      failure = error;
    }
  }, 120_000);

  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it('bundles every function with a source map', () => {
    if (failure) throw failure;
    expect(bundles.map((b) => b.name)).toEqual(FUNCTIONS.map((f) => f.name));
    for (const bundle of bundles) {
      expect(bundle.file).toBe(join(outDir, bundle.name, BUNDLE_FILE));
      expect(bundle.mapBytes).toBeGreaterThan(0);
    }
  });

  it('ships source maps with mappings and names but without the sources', async () => {
    if (failure) throw failure;
    for (const bundle of bundles) {
      const map = JSON.parse(await readFile(`${bundle.file}.map`, 'utf8')) as { sources: string[]; sourcesContent?: unknown; mappings: string; names: string[] };
      expect(map.sourcesContent, bundle.name).toBeUndefined();
      // Stack traces still name the original files.
      const entry = FUNCTIONS.find((f) => f.name === bundle.name)!.entry;
      expect(map.sources.some((source) => source.endsWith(entry)), entry).toBe(true);
      expect(map.mappings.length).toBeGreaterThan(0);
      expect(map.names.length).toBeGreaterThan(0);
    }
  });

  it.each(FUNCTIONS)('exports the handler $samResource names', async (fn) => {
    if (failure) throw failure;
    const module = (await import(pathToFileURL(join(outDir, fn.name, BUNDLE_FILE)).href)) as Record<string, unknown>;
    const exportName = expectedHandler.split('.')[1]!;
    expect(typeof module[exportName]).toBe('function');
  });
});
