/**
 * The one place that makes untrusted text safe to show: tag values (anyone with ec2:CreateTags
 * chooses them, and a tag may hold any character) and AWS error text, on their way into Config
 * annotations, SNS subjects, messages and attributes, logs and the scan table.
 */

/**
 * Characters that change what a reader sees rather than add to it: C0 and C1 controls (line
 * breaks, ANSI escapes), U+2028/U+2029, format characters (bidi overrides and isolates,
 * zero-width characters) and lone surrogates.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
// The notification's section markers are runs of three hyphens: untrusted text never carries one,
// so it can never open a forged details block, wherever it lands in the message.
const MARKER_RUN = /-{3,}/g;
const CUT_MARKER = '...';
const ENCODED_AUTHORIZATION = /Encoded authorization failure message:\s*\S+/gi;

/** Invisible characters removed, marker-like hyphen runs shortened, at most `maxLength` UTF-16 units. */
export function cleanText(text: string, maxLength: number): string {
  return capText(text.replace(INVISIBLE, '').replace(MARKER_RUN, '--'), { maxLength });
}

/** A value shown inside a sentence: cleaned, capped and in double quotes, so where it ends is never in doubt. */
export function quoteValue(value: string, maxLength = 64): string {
  return JSON.stringify(cleanText(value, maxLength));
}

/**
 * AWS error text for a notification: cleaned, and without the encoded authorization failure
 * message, which anyone allowed sts:DecodeAuthorizationMessage turns into the role's policies
 * and the request's condition keys. The function's log keeps the original for its operators.
 */
export function describeAwsError(message: string, maxLength = 300): string {
  return cleanText(
    message.replace(ENCODED_AUTHORIZATION, 'Encoded authorization failure message withheld (see the function log).'),
    maxLength,
  );
}

/**
 * Cuts `text` on a code-point boundary so that it fits `maxLength` UTF-16 units and, when given,
 * `maxBytes` bytes of UTF-8; a cut text ends with "...".
 */
export function capText(text: string, limits: { readonly maxLength: number; readonly maxBytes?: number }): string {
  const maxBytes = limits.maxBytes ?? Number.POSITIVE_INFINITY;
  if (text.length <= limits.maxLength && utf8Length(text) <= maxBytes) return text;
  let length = 0;
  let bytes = 0;
  let cut = '';
  for (const char of text) {
    const charBytes = utf8Length(char);
    if (length + char.length + CUT_MARKER.length > limits.maxLength || bytes + charBytes + CUT_MARKER.length > maxBytes) break;
    cut += char;
    length += char.length;
    bytes += charBytes;
  }
  return cut + CUT_MARKER;
}

export function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** For terminals: every invisible character shown as a `\u{…}` escape instead of acting on the screen. */
export function escapeInvisible(text: string): string {
  return text.replace(INVISIBLE, (char) => `\\u{${(char.codePointAt(0) ?? 0).toString(16)}}`);
}
