import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { EC2Client } from '@aws-sdk/client-ec2';
import type { Context } from 'aws-lambda';
import { CLIENT_DEFAULTS } from '../shared/clients.ts';
import type { EvaluationSummary } from '../shared/config-rule/evaluator.ts';
import { handleRuleEvent } from '../shared/config-rule/handler.ts';
import { InvalidConfigurationError } from '../shared/errors.ts';
import { logger } from '../shared/telemetry.ts';
import { createSourcesRule } from './rule.ts';

// Created once per execution environment and reused across invocations.
const ec2 = new EC2Client(CLIENT_DEFAULTS);
const autoscaling = new AutoScalingClient(CLIENT_DEFAULTS);
const config = new ConfigServiceClient(CLIENT_DEFAULTS);

/** AWS Config custom rule entry point for the sources rule. A thrown error shows in Config as the rule's error. */
export function handler(event: unknown, context?: Context): Promise<EvaluationSummary> {
  return handleRuleEvent(event, context, () => createSourcesRule({ ec2, autoscaling, logger, accountId: accountIdFromEnvironment() }), { config });
}

/** The templates set ACCOUNT_ID (`AWS::AccountId`): the account defaults are reported against it. */
function accountIdFromEnvironment(): string {
  const accountId = process.env.ACCOUNT_ID ?? '';
  if (!/^\d{12}$/.test(accountId)) {
    throw new InvalidConfigurationError([`ACCOUNT_ID must be a 12-digit account id, got "${accountId}"`]);
  }
  return accountId;
}
