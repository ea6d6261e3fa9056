import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/** Structured JSON logs; the level comes from POWERTOOLS_LOG_LEVEL (INFO by default). */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'eks-imds-guard' });

/** EMF metrics, written to the log and turned into CloudWatch metrics by Lambda. */
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'EksImdsGuard',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'eks-imds-guard',
});
