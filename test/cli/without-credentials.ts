import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs a CLI script as its own process with no AWS credentials anywhere. */
export function runWithoutCredentials(script: string, args: readonly string[], endpoint: string): SpawnSyncReturns<string> {
  const home = mkdtempSync(join(tmpdir(), 'cli-home-'));
  return spawnSync(process.execPath, [script, ...args], {
    encoding: 'utf8',
    // Empty HOME, no keys, no instance metadata to fall back on.
    env: { PATH: process.env.PATH, HOME: home, AWS_EC2_METADATA_DISABLED: 'true', AWS_ENDPOINT_URL: endpoint },
    timeout: 60_000,
  });
}
