import { describe, expect, it } from 'vitest';
import { readExemption } from '../../functions/shared/exemption.ts';

const AT = new Date('2026-11-20T09:00:00Z');

describe('readExemption', () => {
  it.each([
    ['until=2026-11-20', { status: 'active', until: '2026-11-20', reason: undefined }],
    ['until=2027-02-18;reason=SEC-123', { status: 'active', until: '2027-02-18', reason: 'SEC-123' }],
    [' until=2027-01-01 ; reason= a;b=c ', { status: 'active', until: '2027-01-01', reason: 'a;b=c' }],
    ['until=2027-01-01;reason=\u202eevil\n', { status: 'active', until: '2027-01-01', reason: 'evil' }],
  ])('takes %j as valid', (value, expected) => {
    expect(readExemption(value, AT, 90)).toMatchObject({ ...expected, problem: undefined });
  });

  it.each([
    ['', 'no expiry (the value must be until=YYYY-MM-DD, optionally ;reason=...)'],
    ['true', 'no expiry (the value must be until=YYYY-MM-DD, optionally ;reason=...)'],
    ['reason=SEC-1;until=2027-01-01', 'no expiry (the value must be until=YYYY-MM-DD, optionally ;reason=...)'],
    ['until=', 'expiry "" is not a date (YYYY-MM-DD)'],
    ['until=2027-02-30', 'expiry "2027-02-30" is not a date (YYYY-MM-DD)'],
    ['until=2027-1-5', 'expiry "2027-1-5" is not a date (YYYY-MM-DD)'],
    ['until=2026-11-19', 'expired on 2026-11-19'],
    // 90 days after 2026-11-20 is 2027-02-18.
    ['until=2027-02-19', 'expiry 2027-02-19 is more than ExemptionMaxDays (90) days away'],
  ])('ignores %j: %s', (value, problem) => {
    expect(readExemption(value, AT, 90)).toMatchObject({ status: 'ignored', problem });
  });

  it('is none without a tag', () => {
    expect(readExemption(undefined, AT, 90).status).toBe('none');
  });

  it('honours a smaller ExemptionMaxDays', () => {
    expect(readExemption('until=2026-11-28', AT, 7).status).toBe('ignored');
    expect(readExemption('until=2026-11-27', AT, 7).status).toBe('active');
  });
});
