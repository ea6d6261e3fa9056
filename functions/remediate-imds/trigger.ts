import { z } from 'zod';
import { InvalidEventError } from '../shared/errors.ts';
import { zodProblems } from '../shared/validation.ts';
import { EVENT_DETAIL_TYPE as COMPLIANCE_DETAIL_TYPE, parseComplianceChange } from './compliance-event.ts';
import { parseStateChange, STATE_CHANGE_DETAIL_TYPE } from './state-change-event.ts';

/** Which EventBridge rule brought the event: the EMF dimension `Path` and the report's `path`. */
export const REMEDIATION_PATHS = ['config', 'state-change'] as const;
export type RemediationPath = (typeof REMEDIATION_PATHS)[number];

/**
 * Looks at an instance again later: a launch whose tags lag, or a claim on the ledger that lost
 * to another event's. Bounded, then dropped quietly.
 */
export const MAX_RELOOKS = 3;
export const RELOOK_DELAY_SECONDS = 20;

/**
 * A delayed re-look is the EventBridge event sent back to the remediation queue with this one
 * field added (the record handler passes the body on unchanged). EventBridge's envelope never
 * carries such a key, and it is removed before the event's own schema sees it.
 */
export const RELOOK_FIELD = 'imds-guard-relook';

const RelookSchema = z.object({ attempt: z.number().int().min(1).max(MAX_RELOOKS, `must be at most ${MAX_RELOOKS}`) });

/**
 * One event of either kind, reduced to what the pipeline needs. Everything after parsing
 * (re-read, judgement, guard, ledger, change, verification, notification) is the same for both.
 */
export type Trigger = {
  /** The EventBridge id: the same on retries, duplicates and re-looks, so the ledger names one event. */
  readonly eventId: string;
  readonly time: Date;
  readonly accountId: string;
  readonly region: string;
  readonly instanceId: string;
  /** 0 for the event as EventBridge delivered it; n for the n-th re-look. */
  readonly attempt: number;
  /** The event without the re-look field: what a re-look sends again. */
  readonly event: Readonly<Record<string, unknown>>;
} & ({ readonly path: 'config'; readonly configRuleName: string } | { readonly path: 'state-change' });

export interface OwnIdentity {
  readonly configRuleName: string;
  readonly accountId: string;
  readonly region: string;
}

const DETAIL_TYPES = [COMPLIANCE_DETAIL_TYPE, STATE_CHANGE_DETAIL_TYPE];

/**
 * Validates the event by its `detail-type` and checks it is this function's: its account and
 * region, and for a compliance change its rule. An event routed here by mistake (another rule, a
 * cross-account bus) is refused before any AWS call.
 */
export function parseTrigger(input: unknown, own: OwnIdentity): Trigger {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InvalidEventError(['(event): must be an object']);
  const { [RELOOK_FIELD]: rawRelook, ...event } = input as Record<string, unknown>;
  const relook = rawRelook === undefined ? undefined : RelookSchema.safeParse(rawRelook);
  if (relook?.success === false) throw new InvalidEventError(zodProblems(relook.error, `${RELOOK_FIELD}.`));
  const common = { attempt: relook?.data.attempt ?? 0, event };

  const detailType = event['detail-type'];
  let trigger: Trigger;
  if (detailType === COMPLIANCE_DETAIL_TYPE) {
    trigger = { path: 'config', ...parseComplianceChange(event), ...common };
  } else if (detailType === STATE_CHANGE_DETAIL_TYPE) {
    trigger = { path: 'state-change', ...parseStateChange(event), ...common };
  } else {
    throw new InvalidEventError([`detail-type: must be one of ${DETAIL_TYPES.map((t) => `"${t}"`).join(', ')}, got ${JSON.stringify(detailType)}`]);
  }
  const problems: string[] = [];
  if (trigger.path === 'config' && trigger.configRuleName !== own.configRuleName) {
    problems.push(`detail.configRuleName "${trigger.configRuleName}" is not this function's rule "${own.configRuleName}"`);
  }
  if (trigger.accountId !== own.accountId) problems.push(`account ${trigger.accountId} is not this function's account ${own.accountId}`);
  if (trigger.region !== own.region) problems.push(`region ${trigger.region} is not this function's region ${own.region}`);
  if (problems.length > 0) throw new InvalidEventError(problems);
  return trigger;
}

/** The message body of the next re-look: the original event and the attempt it will be. */
export function relookBody(trigger: Trigger): string {
  return JSON.stringify({ ...trigger.event, [RELOOK_FIELD]: { attempt: trigger.attempt + 1 } });
}

/**
 * No noise from launches: on the state-change path every skip is silent (not a node, out of
 * scope, exempt, Auto Mode, already compliant, gone). The Config path keeps reporting the skips it
 * always reported: someone is told why a NON_COMPLIANT finding was left alone.
 */
export function publishesSkips(trigger: Trigger): boolean {
  return trigger.path === 'config';
}
