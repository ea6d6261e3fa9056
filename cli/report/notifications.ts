/**
 * Remediation outcomes from notifications someone collected: a JSON-lines file, one SNS message
 * per line, as an SQS or Firehose subscription of the topic stores them (the SNS envelope with
 * `Message`), as the emulator records them (`message`), or the details object itself.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { JSON_BLOCK_MARKER } from '../../functions/remediate-imds/notification.ts';

// Only what the report uses; outcomes stay open-ended (other remediation paths may add some).
// An instance report names its `instanceId`; a sources report its `resourceType` and `resourceId`.
const Details = z
  .object({
    outcome: z.string().min(1),
    instanceId: z.string().min(1).nullish(),
    resourceId: z.string().min(1).nullish(),
    resourceType: z.string().nullish(),
    accountId: z.string().nullish(),
    region: z.string().nullish(),
    cluster: z.string().nullish(),
    headline: z.string().nullish(),
    generatedAt: z.string().nullish(),
    actionsRequired: z.array(z.string()).nullish(),
    drift: z
      .object({
        launchTemplateId: z.string().nullish(),
        launchTemplateVersion: z.string().nullish(),
        nodeGroup: z.string().nullish(),
        nodePool: z.string().nullish(),
        fix: z.string().nullish(),
      })
      .nullish(),
  })
  .refine((d) => (d.instanceId ?? d.resourceId) != null, { message: 'names neither instanceId nor resourceId', path: ['instanceId'] })
  .transform(({ instanceId, resourceId, resourceType, ...rest }) => ({
    ...rest,
    resourceId: (instanceId ?? resourceId) as string,
    resourceType: instanceId != null ? 'AWS::EC2::Instance' : (resourceType ?? 'unknown'),
  }));
export type NotificationDetails = z.output<typeof Details>;

export interface CollectedNotifications {
  readonly file: string;
  readonly notifications: readonly NotificationDetails[];
  /** 1-based line numbers that held no notification details, with why. */
  readonly unreadable: readonly { readonly line: number; readonly reason: string }[];
}

export async function readNotifications(file: string): Promise<CollectedNotifications> {
  const text = await readFile(file, 'utf8');
  const notifications: NotificationDetails[] = [];
  const unreadable: { line: number; reason: string }[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const read = readLine(line);
    if (typeof read === 'string') unreadable.push({ line: index + 1, reason: read });
    else notifications.push(read);
  }
  return { file, notifications, unreadable };
}

function readLine(line: string): NotificationDetails | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null) return 'not a JSON object';
  const record = value as Record<string, unknown>;
  const message = typeof record['Message'] === 'string' ? record['Message'] : typeof record['message'] === 'string' ? record['message'] : undefined;
  let candidate: unknown = record;
  if (message !== undefined) {
    const block = message.split(JSON_BLOCK_MARKER)[1];
    if (block === undefined) return `message has no "${JSON_BLOCK_MARKER}" block`;
    try {
      candidate = JSON.parse(block);
    } catch {
      return 'details block is not JSON';
    }
  }
  const parsed = Details.safeParse(candidate);
  return parsed.success ? parsed.data : `not an eks-imds-guard notification (${parsed.error.issues[0]?.path.join('.') || 'shape'})`;
}
