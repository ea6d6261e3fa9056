import { z } from 'zod';
import { InvalidEventError } from '../errors.ts';
import { accountId, isoTimestamp, zodProblems } from '../validation.ts';

const MESSAGE_TYPES = [
  'ConfigurationItemChangeNotification',
  'OversizedConfigurationItemChangeNotification',
  'ScheduledNotification',
] as const;

// Config adds fields over time: unknown ones pass (looseObject), the ones we use are checked.
const ConfigRuleEventSchema = z.looseObject({
  invokingEvent: z.string().min(1),
  ruleParameters: z.string().optional(),
  resultToken: z.string().min(1),
  eventLeftScope: z.boolean().optional(),
  configRuleName: z.string().min(1),
  accountId,
});

const ItemSummarySchema = z.looseObject({
  resourceType: z.string().min(1),
  resourceId: z.string().min(1),
  configurationItemStatus: z.string().min(1),
  configurationItemCaptureTime: isoTimestamp,
});

const ChangeSchema = z.looseObject({
  messageType: z.literal('ConfigurationItemChangeNotification'),
  configurationItem: ItemSummarySchema.extend({
    tags: z.record(z.string(), z.string()).nullish(),
    configuration: z.looseObject({}).nullish(),
  }),
});

const OversizedSchema = z.looseObject({
  messageType: z.literal('OversizedConfigurationItemChangeNotification'),
  configurationItemSummary: ItemSummarySchema,
});

const ScheduledSchema = z.looseObject({
  messageType: z.literal('ScheduledNotification'),
  notificationCreationTime: isoTimestamp,
});

export interface ItemSummary {
  readonly resourceType: string;
  readonly resourceId: string;
  readonly status: string;
  readonly captureTime: Date;
}

/** A change notification's item: the summary, its tags and its configuration (camelCase, as recorded). */
export interface ChangedItem extends ItemSummary {
  readonly tags: Readonly<Record<string, string>>;
  readonly configuration: Readonly<Record<string, unknown>> | undefined;
}

export type Trigger =
  | { readonly kind: 'change'; readonly item: ChangedItem }
  | { readonly kind: 'oversized'; readonly item: ItemSummary }
  | { readonly kind: 'scheduled'; readonly notificationTime: Date };

export interface RuleInvocation {
  readonly trigger: Trigger;
  readonly rawRuleParameters: string | undefined;
  readonly resultToken: string;
  readonly testMode: boolean;
  readonly eventLeftScope: boolean;
  readonly configRuleName: string;
  readonly accountId: string;
}

/** Validates an AWS Config custom rule invocation; every problem names its field. */
export function parseRuleInvocation(event: unknown): RuleInvocation {
  const envelope = ConfigRuleEventSchema.safeParse(event);
  if (!envelope.success) throw new InvalidEventError(zodProblems(envelope.error));
  const { data } = envelope;

  let invoking: unknown;
  try {
    invoking = JSON.parse(data.invokingEvent);
  } catch (error) {
    throw new InvalidEventError([`invokingEvent is not valid JSON (${(error as Error).message})`]);
  }
  const messageType = (invoking as { messageType?: unknown } | null)?.messageType;
  const common = {
    rawRuleParameters: data.ruleParameters,
    resultToken: data.resultToken,
    testMode: data.resultToken === 'TESTMODE',
    eventLeftScope: data.eventLeftScope ?? false,
    configRuleName: data.configRuleName,
    accountId: data.accountId,
  };

  switch (messageType) {
    case 'ConfigurationItemChangeNotification': {
      const { configurationItem: ci } = check(ChangeSchema, invoking);
      return {
        ...common,
        trigger: {
          kind: 'change',
          item: {
            ...summary(ci),
            tags: ci.tags ?? {},
            configuration: ci.configuration ?? undefined,
          },
        },
      };
    }
    case 'OversizedConfigurationItemChangeNotification':
      return { ...common, trigger: { kind: 'oversized', item: summary(check(OversizedSchema, invoking).configurationItemSummary) } };
    case 'ScheduledNotification':
      return {
        ...common,
        trigger: { kind: 'scheduled', notificationTime: new Date(check(ScheduledSchema, invoking).notificationCreationTime) },
      };
    default:
      throw new InvalidEventError([
        `invokingEvent.messageType must be one of ${MESSAGE_TYPES.join(', ')}, got ${JSON.stringify(messageType) ?? 'nothing'}`,
      ]);
  }
}

function check<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new InvalidEventError(zodProblems(result.error, 'invokingEvent.'));
  return result.data;
}

function summary(item: z.infer<typeof ItemSummarySchema>): ItemSummary {
  return {
    resourceType: item.resourceType,
    resourceId: item.resourceId,
    status: item.configurationItemStatus,
    captureTime: new Date(item.configurationItemCaptureTime),
  };
}
