import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** CI machines ship the Python validators: there a missing one is a failure, not a skip. */
export const IN_CI = process.env.CI === 'true';

/** Where the lookup searched, for the message a skip or a CI failure prints. */
export const SEARCHED = 'pyenv which, $PYENV_ROOT/versions/*/bin (default ~/.pyenv), PATH';

/**
 * The first executable named `name` that `accept` takes, searched in the order a developer's
 * shell would resolve it with pyenv installed, then in every pyenv version (a tool installed in
 * a version that is not the active one), then on PATH. `accept` lets a caller reject a candidate
 * that exists but lacks what is needed, such as a python3 without moto.
 */
export function findPythonTool(name: string, accept: (path: string) => boolean = () => true): string | undefined {
  const tried = new Set<string>();
  for (const candidate of candidates(name)) {
    if (tried.has(candidate)) continue;
    tried.add(candidate);
    if (existsSync(candidate) && accept(candidate)) return candidate;
  }
  return undefined;
}

export function findCfnLint(): string | undefined {
  return findPythonTool('cfn-lint');
}

/** A python3 that can run `python3 -m moto.server` (moto with its server extras). */
export function findMotoPython(): string | undefined {
  return findPythonTool('python3', (python) => spawnSync(python, ['-c', 'import moto.server'], { stdio: 'ignore' }).status === 0);
}

function* candidates(name: string): Generator<string> {
  const pyenv = spawnSync('pyenv', ['which', name], { encoding: 'utf8' });
  if (pyenv.status === 0 && pyenv.stdout.trim() !== '') yield pyenv.stdout.trim();
  const versions = join(process.env.PYENV_ROOT ?? join(homedir(), '.pyenv'), 'versions');
  if (existsSync(versions)) {
    const newestFirst = readdirSync(versions).sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
    for (const version of newestFirst) yield join(versions, version, 'bin', name);
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir !== '') yield join(dir, name);
}
