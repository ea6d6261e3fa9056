import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The README's main command: it must keep working on a fresh clone, with no AWS at all.
describe('npm run demo', () => {
  it('runs the whole flow against the emulator and exits 0', () => {
    const { AWS_ENDPOINT_URL: _external, ...env } = process.env;
    const result = spawnSync(process.execPath, ['scripts/demo.ts'], { encoding: 'utf8', env, timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Swept 8 nodes');
    expect(result.stdout).toContain('AWS Config: AWS::EC2::Instance recorded continuously by recorder default');
    expect(result.stdout).toMatch(/\[partially-remediated\] Subject: IMDS partially remediated: i-[0-9a-f]{17} cluster dev/);
    expect(result.stdout).toContain('Before: 6 non-compliant, 1 compliant. After: 3 non-compliant, 4 compliant, 1 not applicable.');
  });
});
