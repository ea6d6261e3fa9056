import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_SUBJECT_LENGTH,
  OUTCOMES,
  renderNotification,
  toSubject,
  type RemediationReport,
} from '../../functions/remediate-imds/notification.ts';
import { jsonBlock } from './harness.ts';
import { sampleReport } from './sample-report.ts';

describe('toSubject', () => {
  it.each([
    ['replaces accents and other non-ASCII', 'IMDS remediated: cluster prod-ümlaut ✓', 'IMDS remediated: cluster prod-umlaut ?'],
    ['joins lines', 'IMDS FAILED:\ni-0123\r\ncluster\tprod', 'IMDS FAILED: i-0123 cluster prod'],
    ['collapses whitespace', '  IMDS   skipped  ', 'IMDS skipped'],
    ['never returns an empty subject', '\n\n', 'IMDS remediation'],
  ])('%s', (_name, input, expected) => {
    expect(toSubject(input)).toBe(expected);
  });

  it('cuts a long subject to 99 characters, marked with "..."', () => {
    const subject = toSubject(`IMDS remediated: ${'x'.repeat(200)}`);
    expect(subject).toHaveLength(MAX_SUBJECT_LENGTH);
    expect(subject.endsWith('...')).toBe(true);
  });

  it('is printable ASCII, one line, under 100 characters for any input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (input) => {
        const subject = toSubject(input);
        expect(subject.length).toBeGreaterThan(0);
        expect(subject.length).toBeLessThan(100);
        expect(subject).toMatch(/^[\x20-\x7e]+$/);
      }),
    );
  });
});

describe('renderNotification', () => {
  it.each(OUTCOMES)('carries the filterable attributes for outcome %s', (outcome) => {
    const rendered = renderNotification({ ...sampleReport(), outcome });
    expect(rendered.attributes).toEqual({
      outcome,
      accountId: '111122223333',
      region: 'us-east-1',
      cluster: 'prod',
      instanceId: 'i-0123456789abcdef0',
      actionRequired: outcome === 'failed' ? 'true' : 'false',
    });
    for (const value of Object.values(rendered.attributes)) expect(value).not.toBe('');
  });

  it('puts the outcome first in a JSON block that parses back to the report', () => {
    const report = sampleReport();
    const { message } = renderNotification(report);
    const parsed = jsonBlock(message);
    expect(Object.keys(parsed).slice(0, 3)).toEqual(['outcome', 'reason', 'headline']);
    expect(parsed).toEqual(JSON.parse(JSON.stringify(report, (_k, v: unknown) => v ?? null)));
  });

  it('stays far below the SNS 256 KB limit', () => {
    const report: RemediationReport = { ...sampleReport(), actionsRequired: Array.from({ length: 5 }, () => 'x'.repeat(300)) };
    expect(Buffer.byteLength(renderNotification(report).message)).toBeLessThan(16 * 1024);
  });
});
