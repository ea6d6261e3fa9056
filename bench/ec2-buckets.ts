import type { Emulator, FaultSpec } from '../emulator/index.ts';

export type BucketSpec = NonNullable<FaultSpec['tokenBucket']>;

/**
 * EC2's request-rate buckets for the calls the functions make, as shared/AWS-FACTS.md gives
 * them. It gives none for CreateTags (the remediation's ledger tag), so CreateTags is left
 * unthrottled.
 */
export const EC2_BUCKETS = {
  'ec2:DescribeInstances': { capacity: 100, refillPerSecond: 20 },
  'ec2:ModifyInstanceMetadataOptions': { capacity: 100, refillPerSecond: 5 },
} as const satisfies Record<string, BucketSpec>;

/**
 * `latencyMs` on every call, and the emulator's token-bucket fault in front of each operation
 * in `buckets`. A specific fault key replaces `*` entirely, so those operations carry the
 * latency too. Each bucket starts now.
 */
export function injectLatencyAndBuckets(emulator: Emulator, latencyMs: number, buckets: Readonly<Record<string, BucketSpec>>): void {
  emulator.faults.clear();
  if (latencyMs > 0) emulator.faults.set('*', { latencyMs });
  for (const [operation, tokenBucket] of Object.entries(buckets)) emulator.faults.set(operation, { latencyMs, tokenBucket });
}
