import { z } from 'zod';

/** Field checks every event schema shares, with messages that say what is expected. */
export const isoTimestamp = z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'must be an ISO-8601 timestamp');
export const accountId = z.string().regex(/^\d{12}$/, 'must be a 12-digit account id');
export const awsRegion = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region');
export const instanceId = z.string().regex(/^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, 'must be an EC2 instance id (i-0123456789abcdef0)');

/** Every zod issue as `<prefix><path>: <message>`, for InvalidEventError. */
export function zodProblems(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((issue) => `${prefix}${issue.path.join('.') || '(event)'}: ${issue.message}`);
}
