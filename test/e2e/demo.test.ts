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
    expect(result.stdout).toMatch(/\[partially-remediated\] Subject: 123456789012\/us-east-1 IMDS partially remediated: i-[0-9a-f]{17} cluster "dev"/);
    expect(result.stdout).toContain('Before: 7 non-compliant, 1 compliant. After: 4 non-compliant, 4 compliant, 0 not applicable.');
    // The sources: judged, repaired where the function may, and a scale-out launches a compliant node.
    expect(result.stdout).toContain('Judged 8 sources');
    expect(result.stdout).toMatch(/\[remediated\] Subject: \d{12}\/us-east-1 IMDS source remediated: account defaults/);
    expect(result.stdout).toMatch(/\[remediated\] Subject: \d{12}\/us-east-1 IMDS source remediated: AutoScalingGroup "dev-workers"/);
    expect(result.stdout).toMatch(/\[skipped\] Subject: \d{12}\/us-east-1 IMDS source skipped: LaunchTemplate "lt-[0-9a-f]{17}"[^\n]*\n\s+Outcome: skipped - nothing this function may change: action required\n\s+Action required:\n\s+- set the EC2NodeClass "default" spec: \{metadataOptions:/);
    expect(result.stdout).toMatch(/self-managed dev-workers \(\$Latest, tokens optional\)\s+COMPLIANT/);
    expect(result.stdout).toMatch(/New node i-[0-9a-f]{17} from lt-[0-9a-f]{17} v2: HttpTokens required, hop limit 2 -> COMPLIANT/);
    // The fast path: the launched node is fixed from its running event, before Config records it.
    expect(result.stdout).toMatch(/i-[0-9a-f]{17} running \d+ ms after launch; remediated \d+ ms after its running event \(applied\): now required\/2, 1 notification:/);
    expect(result.stdout).toContain('launched: managed node group (hop 1): COMPLIANT at its first evaluation; 0 NON_COMPLIANT finding for it');
  });
});
