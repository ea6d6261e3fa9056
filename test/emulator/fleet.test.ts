import { paginateDescribeInstances } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { startEmulator, syntheticFleet } from '../../emulator/index.ts';
import { clientsFor, destroy } from './clients.ts';

describe('syntheticFleet', () => {
  it('spreads non-EKS instances and marks every third EKS node non-compliant', () => {
    const fleet = syntheticFleet(100, { nonEks: 10 });
    expect(fleet).toHaveLength(100);
    const plain = fleet.filter((s) => !Object.keys(s.tags ?? {}).some((k) => k.startsWith('kubernetes.io/cluster/')));
    expect(plain).toHaveLength(10);
    const bad = fleet.filter((s) => s.metadataOptions?.httpPutResponseHopLimit === 1 && !plain.includes(s));
    expect(bad).toHaveLength(30);
  });

  it('pages a 50,000-instance fleet through the SDK with O(page) work per page', async () => {
    const emulator = await startEmulator();
    const clients = clientsFor(emulator);
    try {
      emulator.addInstances(syntheticFleet(50_000, { nonEks: 5_000 }));
      const started = performance.now();
      let seen = 0;
      for await (const page of paginateDescribeInstances(
        { client: clients.ec2, pageSize: 1000 },
        { Filters: [{ Name: 'tag-key', Values: ['kubernetes.io/cluster/*'] }] },
      )) {
        seen += (page.Reservations ?? []).reduce((n, r) => n + (r.Instances?.length ?? 0), 0);
      }
      const elapsed = performance.now() - started;
      expect(seen).toBe(45_000);
      expect(emulator.calls.get('ec2:DescribeInstances')).toBe(45);
      // Generous: the SDK's XML parsing dominates; this guards against per-page re-filtering blowups.
      expect(elapsed).toBeLessThan(20_000);
    } finally {
      destroy(clients);
      await emulator.close();
    }
  });
});
