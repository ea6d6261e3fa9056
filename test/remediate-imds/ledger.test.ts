import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatLedger,
  LEDGER_STATES,
  ledgerEventRef,
  ledgerNamesEvent,
  MAX_LEDGER_LENGTH,
  parseLedger,
  type Ledger,
} from '../../functions/remediate-imds/ledger.ts';
import { EVENT_ID } from './builders.ts';

// What every AWS service accepts in a tag value: letters, digits, spaces and + - = . _ : / @.
const TAG_VALUE_CHARSET = /^[\p{L}\p{N} +\-=._:/@]*$/u;

const aLedger: Ledger = {
  event: EVENT_ID,
  state: 'unnotified',
  before: { httpTokens: 'optional', hopLimit: 1, httpEndpoint: 'enabled' },
  after: { httpTokens: 'required', hopLimit: 2, httpEndpoint: 'enabled' },
  imdsv1: { calls: 0, lookbackHours: 24 },
  at: '2026-11-20T09:15:10.000Z',
};

const values = fc.record({
  httpTokens: fc.constantFrom('optional', 'required', undefined),
  hopLimit: fc.option(fc.integer({ min: 1, max: 64 }), { nil: undefined }),
  httpEndpoint: fc.constantFrom('enabled', 'disabled', undefined),
});

const ledgers: fc.Arbitrary<Ledger> = fc.record({
  event: fc.oneof(fc.uuid(), fc.string({ unit: 'binary', minLength: 1, maxLength: 300 })).map(ledgerEventRef),
  state: fc.constantFrom(...LEDGER_STATES),
  before: values,
  after: values,
  imdsv1: fc.option(
    fc.record({
      calls: fc.oneof(fc.nat({ max: 1_000_000 }), fc.integer({ min: 0, max: 99_999 }).map((n) => n / 10)),
      lookbackHours: fc.integer({ min: 1, max: 360 }),
    }),
    { nil: undefined },
  ),
  at: fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString()),
});

describe('formatLedger / parseLedger', () => {
  it('writes a compact, versioned, readable value', () => {
    expect(formatLedger(aLedger)).toBe(
      'v1 event=c0bb891c-77fe-8518-14fc-be78b966f95b state=unnotified before=optional/1/enabled after=required/2/enabled imdsv1=0/24 at=2026-11-20T09:15:10.000Z',
    );
    expect(formatLedger({ ...aLedger, before: { httpTokens: undefined, hopLimit: undefined, httpEndpoint: undefined }, imdsv1: undefined })).toContain(
      'before=-/-/- after=required/2/enabled imdsv1=- ',
    );
  });

  it('round-trips every ledger, within 256 characters of the characters every AWS service accepts in tags', () => {
    fc.assert(
      fc.property(ledgers, (ledger) => {
        const value = formatLedger(ledger);
        expect(value.length).toBeLessThanOrEqual(MAX_LEDGER_LENGTH);
        expect(value).toMatch(TAG_VALUE_CHARSET);
        expect(parseLedger(value)).toEqual(ledger);
      }),
      { numRuns: 500 },
    );
  });

  it('names any event id, hashing the ones that are not tag-safe', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 400 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 400 }), (a, b) => {
        const ledger = { ...aLedger, event: ledgerEventRef(a) };
        expect(ledgerNamesEvent(ledger, a)).toBe(true);
        if (a !== b) expect(ledgerNamesEvent(ledger, b)).toBe(false);
        expect(formatLedger(ledger)).toMatch(TAG_VALUE_CHARSET);
      }),
    );
    expect(ledgerEventRef(EVENT_ID)).toBe(EVENT_ID);
    expect(ledgerEventRef('id with spaces')).toMatch(/^sha256:[0-9a-f]{64}$/);
    // An id that looks like a digest is hashed too, so it cannot pose as another event's digest.
    expect(ledgerEventRef(`sha256:${'0'.repeat(64)}`)).not.toBe(`sha256:${'0'.repeat(64)}`);
  });

  it('refuses to write what it could not read back', () => {
    expect(() => formatLedger({ ...aLedger, event: 'not a ref' })).toThrow(RangeError);
    expect(() => formatLedger({ ...aLedger, before: { ...aLedger.before, httpTokens: 'opt ional' } })).toThrow(RangeError);
    expect(() => formatLedger({ ...aLedger, after: { ...aLedger.after, hopLimit: 1.5 } })).toThrow(RangeError);
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['another format', 'v2 event=x state=notified'],
    ['no version', formatLedger(aLedger).slice(3)],
    ['an unknown state', formatLedger(aLedger).replace('state=unnotified', 'state=done')],
    ['a missing field', formatLedger(aLedger).replace(' imdsv1=0/24', '')],
    ['an unknown field', `${formatLedger(aLedger)} extra=1`],
    ['a repeated field', formatLedger(aLedger).replace('imdsv1=0/24', 'state=notified')],
    ['two spaces', formatLedger(aLedger).replace(' state', '  state')],
    ['a short value triple', formatLedger(aLedger).replace('before=optional/1/enabled', 'before=optional/1')],
    ['a bad hop limit', formatLedger(aLedger).replace('before=optional/1/', 'before=optional/one/')],
    ['a bad guard finding', formatLedger(aLedger).replace('imdsv1=0/24', 'imdsv1=many/24')],
    ['a bad time', formatLedger(aLedger).replace('at=2026-11-20T09:15:10.000Z', 'at=yesterday')],
    ['an impossible time', formatLedger(aLedger).replace('at=2026-11-20T09', 'at=2026-13-45T09')],
    ['a bad event', formatLedger(aLedger).replace(`event=${EVENT_ID}`, 'event=sha256:xyz')],
    ['too long', `${formatLedger(aLedger)}${' '.repeat(300)}`],
  ])('reads %s as no ledger', (_name, value) => {
    expect(parseLedger(value)).toBeUndefined();
  });

  it('never throws, whatever the tag holds', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), ledgers.map(formatLedger).chain((v) => fc.nat({ max: v.length }).map((n) => v.slice(0, n)))), (value) => {
        const parsed = parseLedger(value);
        if (parsed !== undefined) expect(formatLedger(parsed)).toBe(value);
      }),
      { numRuns: 500 },
    );
  });
});
