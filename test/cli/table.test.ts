import { describe, expect, it } from 'vitest';
import { formatTable } from '../../cli/table.ts';

describe('formatTable', () => {
  it('shows escape sequences and line breaks from tag values instead of letting the terminal act on them', () => {
    const table = formatTable(['INSTANCE', 'CLUSTER', 'DETAIL'], [['i-1', 'prod\n\u001b[2J', 'x\u202eevil']]);
    expect(table.split('\n')).toEqual(['INSTANCE  CLUSTER             DETAIL', 'i-1       prod\\u{a}\\u{1b}[2J  x\\u{202e}evil']);
  });
});
