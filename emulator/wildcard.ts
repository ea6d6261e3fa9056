export type Matcher = (value: string) => boolean;

/**
 * EC2 filter values: `*` is any run of characters, `?` exactly one, and a backslash escapes
 * either. Compiled once per query so paging a large fleet does not rebuild regexes per item.
 */
export function compileWildcard(pattern: string): Matcher {
  if (!/[*?\\]/.test(pattern)) return (value) => value === pattern;
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '\\' && i + 1 < pattern.length) {
      source += escapeRegExp(pattern[++i] ?? '');
    } else if (c === '*') {
      source += '[\\s\\S]*';
    } else if (c === '?') {
      source += '[\\s\\S]';
    } else {
      source += escapeRegExp(c);
    }
  }
  const regex = new RegExp(`^${source}$`);
  return (value) => regex.test(value);
}

/** Several values of one filter are ORed. */
export function compileAny(patterns: readonly string[]): Matcher {
  const matchers = patterns.map(compileWildcard);
  if (matchers.length === 1) return matchers[0] ?? (() => false);
  return (value) => matchers.some((m) => m(value));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
