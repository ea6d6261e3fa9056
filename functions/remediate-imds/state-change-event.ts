import { z } from 'zod';
import { InvalidEventError } from '../shared/errors.ts';
import { accountId, awsRegion, instanceId, isoTimestamp, zodProblems } from '../shared/validation.ts';

export const STATE_CHANGE_SOURCE = 'aws.ec2';
export const STATE_CHANGE_DETAIL_TYPE = 'EC2 Instance State-change Notification';

// Unknown fields pass (EventBridge adds some over time); the ones acted on are checked.
const StateChangeEventSchema = z.looseObject({
  id: z.string().min(1),
  source: z.literal(STATE_CHANGE_SOURCE),
  'detail-type': z.literal(STATE_CHANGE_DETAIL_TYPE),
  account: accountId,
  region: awsRegion,
  time: isoTimestamp,
  detail: z.looseObject({
    'instance-id': instanceId,
    state: z.literal('running', { error: 'must be running (only launches that reached running are remediated)' }),
  }),
});

/** What remediation takes from a state-change event: whose it is and which instance. The event carries no tags or options. */
export interface StateChange {
  readonly eventId: string;
  readonly time: Date;
  readonly accountId: string;
  readonly region: string;
  readonly instanceId: string;
}

/** Validates an "EC2 Instance State-change Notification" for `running`; every problem names its field. */
export function parseStateChange(event: unknown): StateChange {
  const result = StateChangeEventSchema.safeParse(event);
  if (!result.success) throw new InvalidEventError(zodProblems(result.error));
  const { data } = result;
  return {
    eventId: data.id,
    time: new Date(data.time),
    accountId: data.account,
    region: data.region,
    instanceId: data.detail['instance-id'],
  };
}
