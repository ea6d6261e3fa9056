import { z } from 'zod';

/** Field checks both event schemas share, with messages that say what is expected. */
export const isoTimestamp = z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'must be an ISO-8601 timestamp');
export const accountId = z.string().regex(/^\d{12}$/, 'must be a 12-digit account id');

/** Every zod issue as `<prefix><path>: <message>`, for InvalidEventError. */
export function zodProblems(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((issue) => `${prefix}${issue.path.join('.') || '(event)'}: ${issue.message}`);
}
