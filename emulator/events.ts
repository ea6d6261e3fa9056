import { randomUUID } from 'node:crypto';
import { AwsError } from './errors.ts';

type JsonObject = Record<string, unknown>;

/** What EventBridge would deliver to a rule's target: the envelope it sets and the sender's detail. */
export interface PutEvent {
  id: string;
  eventBusName: string;
  /** Set by EventBridge from the caller's credentials; the sender cannot choose it. */
  account: string;
  region: string;
  source: string;
  detailType: string;
  detail: unknown;
  at: Date;
}

interface EventsOptions {
  accountId: string;
  region: string;
}

const MAX_ENTRIES = 10;
const MAX_REQUEST_BYTES = 262_144;

/** EventBridge PutEvents on any bus of the account, recorded for tests and the demo. */
export class EventsService {
  readonly #options: EventsOptions;
  readonly #events: PutEvent[] = [];

  constructor(options: EventsOptions) {
    this.#options = options;
  }

  events(source?: string): PutEvent[] {
    const events = source === undefined ? this.#events : this.#events.filter((e) => e.source === source);
    return structuredClone(events);
  }

  readonly operations: Record<string, (input: JsonObject) => JsonObject> = {
    PutEvents: (input) => this.#putEvents(input),
  };

  #putEvents(input: JsonObject): JsonObject {
    const entries = input['Entries'];
    if (!Array.isArray(entries) || entries.length === 0 || entries.length > MAX_ENTRIES) {
      throw new AwsError('ValidationException', `Entries must hold 1 to ${MAX_ENTRIES} entries`);
    }
    if (Buffer.byteLength(JSON.stringify(entries)) > MAX_REQUEST_BYTES) {
      throw new AwsError('ValidationException', 'Total size of the entries in the request is over the limit.');
    }
    let failed = 0;
    const results = entries.map((entry: JsonObject) => {
      const problem = entryProblem(entry);
      if (problem !== undefined) {
        failed++;
        return { ErrorCode: 'InvalidArgument', ErrorMessage: problem };
      }
      const id = randomUUID();
      this.#events.push({
        id,
        eventBusName: typeof entry['EventBusName'] === 'string' ? entry['EventBusName'] : 'default',
        account: this.#options.accountId,
        region: this.#options.region,
        source: entry['Source'] as string,
        detailType: entry['DetailType'] as string,
        detail: JSON.parse(entry['Detail'] as string),
        at: new Date(),
      });
      return { EventId: id };
    });
    return { FailedEntryCount: failed, Entries: results };
  }
}

function entryProblem(entry: JsonObject): string | undefined {
  for (const field of ['Source', 'DetailType', 'Detail']) {
    if (typeof entry[field] !== 'string' || entry[field] === '') return `Parameter ${field} is not valid.`;
  }
  if ((entry['Source'] as string).startsWith('aws.')) return 'Parameter Source is not valid. Reason: aws. prefix is reserved.';
  try {
    const detail: unknown = JSON.parse(entry['Detail'] as string);
    if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) return 'Detail is malformed.';
  } catch {
    return 'Detail is malformed.';
  }
  return undefined;
}
