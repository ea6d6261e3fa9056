import { cleanText, quoteValue } from './sanitize.ts';

/**
 * What the exemption tag says, judged at one moment. An exemption never changes compliance: it
 * only stops remediation, and only while it is `active`.
 */
export interface Exemption {
  /** `none`: no tag; `active`: a valid, current expiry; `ignored`: a tag that does not count. */
  readonly status: 'none' | 'active' | 'ignored';
  /** The last day (UTC) the exemption holds, when the tag gives a valid date. */
  readonly until: string | undefined;
  /** The tag's `reason=` text, cleaned and capped (it is free text anyone who can tag wrote). */
  readonly reason: string | undefined;
  /** Why an `ignored` exemption does not count. */
  readonly problem: string | undefined;
}

export const NO_EXEMPTION: Exemption = { status: 'none', until: undefined, reason: undefined, problem: undefined };

const TAG_VALUE = /^\s*until=([^;]*?)\s*(?:;\s*reason=(.*))?$/s;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;
const REASON_LENGTH = 60;

/**
 * Reads an exemption tag value `until=YYYY-MM-DD`, optionally `;reason=…`. The expiry is the
 * last day it holds (UTC). A missing or malformed expiry, a past one, or one further away than
 * `maxDays` from `evaluatedAt` makes the exemption `ignored`, with the reason.
 */
export function readExemption(value: string | undefined, evaluatedAt: Date, maxDays: number): Exemption {
  if (value === undefined) return NO_EXEMPTION;
  const match = TAG_VALUE.exec(value);
  if (match === null) return ignored(undefined, 'no expiry (the value must be until=YYYY-MM-DD, optionally ;reason=...)');
  const written = match[1] ?? '';
  const reason = match[2]?.trim() ? cleanText(match[2].trim(), REASON_LENGTH) : undefined;
  const until = parseDay(written);
  if (until === undefined) return ignored(undefined, `expiry ${quoteValue(written, 20)} is not a date (YYYY-MM-DD)`, reason);

  const today = Date.UTC(evaluatedAt.getUTCFullYear(), evaluatedAt.getUTCMonth(), evaluatedAt.getUTCDate());
  const daysLeft = Math.round((until - today) / DAY_MS);
  if (daysLeft < 0) return ignored(written, `expired on ${written}`, reason);
  if (daysLeft > maxDays) return ignored(written, `expiry ${written} is more than ExemptionMaxDays (${maxDays}) days away`, reason);
  return { status: 'active', until: written, reason, problem: undefined };
}

/** Milliseconds of the day's UTC midnight, or undefined when it is no calendar date. */
function parseDay(text: string): number | undefined {
  const parts = DATE.exec(text);
  if (parts === null) return undefined;
  const [year, month, day] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  const at = Date.UTC(year, month - 1, day);
  const back = new Date(at);
  // Date.UTC rolls 2027-02-30 over to March: a date that does not come back unchanged does not exist.
  if (back.getUTCFullYear() !== year || back.getUTCMonth() !== month - 1 || back.getUTCDate() !== day) return undefined;
  return at;
}

function ignored(until: string | undefined, problem: string, reason?: string): Exemption {
  return { status: 'ignored', until, reason, problem };
}

/** The exemption in a few words, for annotations and notifications; empty when there is none. */
export function describeExemption(exemption: Exemption): string {
  if (exemption.status === 'active') return `exempt until ${exemption.until}${exemption.reason ? ` (reason ${quoteValue(exemption.reason, REASON_LENGTH)})` : ''}`;
  if (exemption.status === 'ignored') return `exemption ignored: ${exemption.problem}`;
  return '';
}
