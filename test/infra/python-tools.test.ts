import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findPythonTool } from '../../scripts/python-tools.ts';

// A machine of our own making: pyenv versions and a PATH directory, no real pyenv on PATH.
const root = mkdtempSync(join(tmpdir(), 'python-tools-'));
const pyenvRoot = join(root, 'pyenv');
const pathDir = join(root, 'bin');
const saved = { PATH: process.env.PATH, PYENV_ROOT: process.env.PYENV_ROOT };

function tool(dir: string, name: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, 0o755);
  return path;
}

beforeEach(() => {
  rmSync(root, { recursive: true, force: true });
  process.env.PATH = pathDir;
  process.env.PYENV_ROOT = pyenvRoot;
});

afterEach(() => Object.assign(process.env, saved));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('findPythonTool', () => {
  it('prefers a pyenv version over PATH, the newest version first (3.12 before 3.9)', () => {
    tool(pathDir, 'cfn-lint');
    tool(join(pyenvRoot, 'versions', '3.9.18', 'bin'), 'cfn-lint');
    const newest = tool(join(pyenvRoot, 'versions', '3.12.1', 'bin'), 'cfn-lint');
    expect(findPythonTool('cfn-lint')).toBe(newest);
  });

  it('moves on to the next candidate when one lacks what is needed, down to PATH', () => {
    const without = tool(join(pyenvRoot, 'versions', '3.12.1', 'bin'), 'python3');
    const onPath = tool(pathDir, 'python3');
    expect(findPythonTool('python3', (path) => path !== without)).toBe(onPath);
  });

  it('finds nothing when no candidate exists or none is accepted', () => {
    expect(findPythonTool('cfn-lint')).toBeUndefined();
    tool(pathDir, 'cfn-lint');
    expect(findPythonTool('cfn-lint', () => false)).toBeUndefined();
  });
});
