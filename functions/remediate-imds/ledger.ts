import { createHash } from 'node:crypto';
import type { Imdsv1Finding, MetadataValues } from './plan.ts';

/**
 * The remediation's record of what it did to an instance, kept as a tag on the instance itself
 * so that every execution environment reads it with the DescribeInstances it makes anyway.
 * It lets a retry of an event tell "my change landed but its notification did not go out" from
 * "this event was handled and notified" (docs/remediation.md, "Delivery guarantee"), and an
 * `unnotified` ledger is a claim: events of both paths for one instance defer to the one that
 * holds it (docs/remediation.md, "Both paths, one ledger").
 */
// No "/" in the key: EC2 refuses such keys on instances that expose their tags in instance
// metadata (InstanceMetadataTags=enabled), and the ledger must be writable on every node.
export const LEDGER_TAG_KEY = 'imds-guard:remediation';

/** First token of every value: a future format gets a new one, and an old reader ignores it. */
export const LEDGER_FORMAT = 'v1';

/** EC2 tag values hold at most 256 characters. */
export const MAX_LEDGER_LENGTH = 256;

/**
 * - `unnotified`: a change for this event was (about to be) sent; its notification has not gone out.
 * - `notified`: the notification for this event's change was published.
 * - `failed`: the change was refused (a permanent error); nothing was modified.
 * - `yielded`: between this event's claim and its change, another event's remediation changed the
 *   instance; this event modified nothing and reports nothing.
 */
export const LEDGER_STATES = ['unnotified', 'notified', 'failed', 'yielded'] as const;
export type LedgerState = (typeof LEDGER_STATES)[number];

export interface Ledger {
  /** ledgerEventRef of the EventBridge event id: the id itself, or `sha256:<hex>` of it when it is not tag-safe. */
  readonly event: string;
  readonly state: LedgerState;
  /** The metadata options before the change. */
  readonly before: MetadataValues;
  /** The values sent. */
  readonly after: MetadataValues;
  /** What the IMDSv1 guard found when the change was planned; undefined when it did not look. */
  readonly imdsv1: Imdsv1Finding | undefined;
  /** When the ledger was written (ISO-8601). */
  readonly at: string;
}

// Tag-safe: letters, digits and - . _ : @ + = (the characters every AWS service accepts in tags).
const SAFE_EVENT_ID = /^[A-Za-z0-9._:@+=-]{1,64}$/;
const DIGEST_REF = /^sha256:[0-9a-f]{64}$/;
const WORD = /^[A-Za-z0-9]{1,32}$/;
const HOP = /^\d{1,3}$/;
const CALLS = /^\d{1,13}(\.\d)?$/;
const HOURS = /^\d{1,4}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const MAX_CALLS = 999_999_999_999;

/** How a ledger names an event: its id when tag-safe (EventBridge ids are UUIDs), otherwise a digest. */
export function ledgerEventRef(eventId: string): string {
  if (SAFE_EVENT_ID.test(eventId) && !eventId.startsWith('sha256:')) return eventId;
  return `sha256:${createHash('sha256').update(eventId).digest('hex')}`;
}

export function ledgerNamesEvent(ledger: Ledger, eventId: string): boolean {
  return ledger.event === ledgerEventRef(eventId);
}

/**
 * `v1 event=<id> state=<state> before=<tokens>/<hop>/<endpoint> after=<tokens>/<hop>/<endpoint> imdsv1=<calls>/<hours> at=<ISO>`;
 * an absent value is `-` (`imdsv1=-` when the guard did not look). Only characters every AWS
 * service accepts in tag values; at most 170 characters for a UUID event id, 200 for a digest.
 */
export function formatLedger(ledger: Ledger): string {
  const value = [
    LEDGER_FORMAT,
    `event=${eventRef(ledger.event)}`,
    `state=${ledger.state}`,
    `before=${formatValues(ledger.before)}`,
    `after=${formatValues(ledger.after)}`,
    `imdsv1=${ledger.imdsv1 === undefined ? '-' : `${formatCalls(ledger.imdsv1.calls)}/${ledger.imdsv1.lookbackHours}`}`,
    `at=${ledger.at}`,
  ].join(' ');
  if (value.length > MAX_LEDGER_LENGTH) throw new RangeError(`ledger value is ${value.length} characters, more than ${MAX_LEDGER_LENGTH}`);
  return value;
}

/** The ledger in a tag value; undefined for anything that is not exactly a v1 ledger (no ledger, then). */
export function parseLedger(value: string | undefined): Ledger | undefined {
  if (value === undefined || value.length > MAX_LEDGER_LENGTH) return undefined;
  const [format, ...pairs] = value.split(' ');
  if (format !== LEDGER_FORMAT) return undefined;
  const fields = new Map<string, string>();
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) return undefined;
    const key = pair.slice(0, at);
    if (fields.has(key)) return undefined;
    fields.set(key, pair.slice(at + 1));
  }
  if (fields.size !== 6) return undefined;
  const event = fields.get('event');
  const state = fields.get('state');
  const before = parseValues(fields.get('before'));
  const after = parseValues(fields.get('after'));
  const imdsv1 = parseImdsv1(fields.get('imdsv1'));
  const at = fields.get('at');
  if (event === undefined || !isEventRef(event)) return undefined;
  if (!(LEDGER_STATES as readonly string[]).includes(state ?? '')) return undefined;
  if (before === undefined || after === undefined || imdsv1 === null) return undefined;
  if (at === undefined || !ISO.test(at) || Number.isNaN(Date.parse(at))) return undefined;
  return { event, state: state as LedgerState, before, after, imdsv1, at };
}

function isEventRef(text: string): boolean {
  return (SAFE_EVENT_ID.test(text) && !text.startsWith('sha256:')) || DIGEST_REF.test(text);
}

function eventRef(text: string): string {
  if (!isEventRef(text)) throw new RangeError(`${JSON.stringify(text)} is not an event reference: use ledgerEventRef(eventId)`);
  return text;
}

function formatValues(values: MetadataValues): string {
  return [word(values.httpTokens), hop(values.hopLimit), word(values.httpEndpoint)].join('/');
}

function word(value: string | undefined): string {
  if (value === undefined) return '-';
  if (!WORD.test(value)) throw new RangeError(`metadata option value ${JSON.stringify(value)} cannot be recorded in the ledger`);
  return value;
}

function hop(value: number | undefined): string {
  if (value === undefined) return '-';
  if (!Number.isInteger(value) || value < 0 || value > 999) throw new RangeError(`hop limit ${value} cannot be recorded in the ledger`);
  return String(value);
}

function formatCalls(calls: number): string {
  const bounded = Math.min(Math.max(calls, 0), MAX_CALLS);
  return Number.isInteger(bounded) ? String(bounded) : bounded.toFixed(1);
}

function parseValues(text: string | undefined): MetadataValues | undefined {
  const parts = text?.split('/');
  if (parts === undefined || parts.length !== 3) return undefined;
  const [tokens, hopLimit, endpoint] = parts as [string, string, string];
  if (!(tokens === '-' || WORD.test(tokens)) || !(endpoint === '-' || WORD.test(endpoint))) return undefined;
  if (!(hopLimit === '-' || HOP.test(hopLimit))) return undefined;
  return {
    httpTokens: tokens === '-' ? undefined : tokens,
    hopLimit: hopLimit === '-' ? undefined : Number(hopLimit),
    httpEndpoint: endpoint === '-' ? undefined : endpoint,
  };
}

/** undefined = the guard did not look; null = unparseable. */
function parseImdsv1(text: string | undefined): Imdsv1Finding | undefined | null {
  if (text === '-') return undefined;
  const parts = text?.split('/');
  if (parts === undefined || parts.length !== 2) return null;
  const [calls, hours] = parts as [string, string];
  if (!CALLS.test(calls) || !HOURS.test(hours)) return null;
  return { calls: Number(calls), lookbackHours: Number(hours) };
}
