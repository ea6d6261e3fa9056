import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileAny, compileWildcard } from '../../emulator/wildcard.ts';

describe('EC2 filter wildcards', () => {
  it.each([
    ['own*', 'owned', true],
    ['own*', 'own', true],
    ['own*', 'xowned', false],
    ['ng-?', 'ng-7', true],
    ['ng-?', 'ng-', false],
    ['ng-?', 'ng-77', false],
    ['*/cluster/*', 'kubernetes.io/cluster/demo', true],
    ['a.c', 'abc', false],
    ['\\*', '*', true],
    ['\\*', 'x', false],
    ['(x)+', '(x)+', true],
  ])('%s against %s is %s', (pattern, value, expected) => {
    expect(compileWildcard(pattern)(value)).toBe(expected);
  });

  it('a pattern without wildcards matches only itself', () => {
    fc.assert(
      fc.property(fc.string().filter((s) => !/[*?\\]/.test(s)), fc.string(), (pattern, other) => {
        const match = compileWildcard(pattern);
        return match(pattern) && match(other) === (other === pattern);
      }),
    );
  });

  it('* matches any value with the literal prefix and suffix', () => {
    const literal = fc.string().filter((s) => !/[*?\\]/.test(s));
    fc.assert(
      fc.property(literal, fc.string(), literal, (prefix, middle, suffix) => compileWildcard(`${prefix}*${suffix}`)(prefix + middle + suffix)),
    );
  });

  it('ORs several values', () => {
    const match = compileAny(['running', 'pend*']);
    expect(['running', 'pending', 'stopped'].map(match)).toEqual([true, true, false]);
  });
});
