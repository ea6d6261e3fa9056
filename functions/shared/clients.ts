import type { Logger } from '@aws-lambda-powertools/logger';

/**
 * Settings every SDK client gets. Adaptive retries add client-side rate limiting on top of
 * the standard exponential backoff: right for EC2's and Config's token-bucket throttling.
 * No endpoint here: the SDK honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>) itself.
 */
export const CLIENT_DEFAULTS = {
  retryMode: 'adaptive',
  maxAttempts: 6,
} as const;

/** What helpers need of a logger: narrow, so tests pass a plain object. */
export type DebugLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
