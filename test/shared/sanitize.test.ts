import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { capText, cleanText, describeAwsError, escapeInvisible, quoteValue, utf8Length } from '../../functions/shared/sanitize.ts';

describe('cleanText', () => {
  it.each([
    ['line breaks and ANSI escapes', 'prod\r\n\u001b[2Jx', 'prod[2Jx'],
    ['C1 controls and DEL', 'a\u0085b\u009bc\u007fd', 'abcd'],
    ['U+2028 and U+2029', 'a\u2028b\u2029c', 'abc'],
    ['bidi overrides and isolates', 'a\u202eb\u2066c\u2069d\u202ae', 'abcde'],
    ['zero-width characters and marks', 'a\u200bb\u200fc\ufeffd', 'abcd'],
    ['a lone surrogate', 'a\ud800b', 'ab'],
    ['marker-like hyphen runs', 'a---b------c--d', 'a--b--c--d'],
  ])('removes %s', (_name, input, expected) => {
    expect(cleanText(input, 100)).toBe(expected);
  });

  it('keeps ordinary Unicode', () => {
    expect(cleanText('prod-ümlaut 日本 😀', 100)).toBe('prod-ümlaut 日本 😀');
  });

  it('never lets a value carry a control, a separator, a format character or a marker run', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), fc.integer({ min: 4, max: 300 }), (input, max) => {
        const cleaned = cleanText(input, max);
        expect(cleaned).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u);
        expect(cleaned).not.toContain('---');
        expect(cleaned.length).toBeLessThanOrEqual(max);
      }),
    );
  });
});

describe('quoteValue', () => {
  it('quotes, escapes quotes and backslashes, and caps inside the quotes', () => {
    expect(quoteValue('pr"od\\')).toBe('"pr\\"od\\\\"');
    expect(quoteValue('x'.repeat(30), 10)).toBe('"xxxxxxx..."');
  });
});

describe('capText', () => {
  it('cuts on code points to fit characters and UTF-8 bytes, marking the cut', () => {
    const text = 'é'.repeat(200);
    const cut = capText(text, { maxLength: 256, maxBytes: 256 });
    expect(utf8Length(cut)).toBeLessThanOrEqual(256);
    expect(cut.endsWith('...')).toBe(true);
    expect(capText('short', { maxLength: 256, maxBytes: 256 })).toBe('short');
  });

  it('holds both limits for any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 400 }), (text) => {
        const cut = capText(text, { maxLength: 256, maxBytes: 256 });
        expect(cut.length).toBeLessThanOrEqual(256);
        expect(utf8Length(cut)).toBeLessThanOrEqual(256);
        expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
      }),
    );
  });
});

describe('describeAwsError', () => {
  it('withholds the encoded authorization failure message', () => {
    const message = 'You are not authorized to perform this operation. Encoded authorization failure message: 4Xk9-abc_DEF123zz';
    const described = describeAwsError(message);
    expect(described).not.toContain('4Xk9-abc_DEF123zz');
    expect(described).toBe('You are not authorized to perform this operation. Encoded authorization failure message withheld (see the function log).');
  });
});

describe('escapeInvisible', () => {
  it('shows escapes instead of letting a terminal act on them', () => {
    expect(escapeInvisible('prod\n\u001b[2J\u202e')).toBe('prod\\u{a}\\u{1b}[2J\\u{202e}');
  });
});
