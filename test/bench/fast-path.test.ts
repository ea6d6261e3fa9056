import { describe, expect, it } from 'vitest';
import { SECTION_END, SECTION_START, withSection } from '../../bench/fast-path.ts';

// docs/benchmarks.md holds two runs: npm run bench rewrites the file and keeps the fast-path section; npm run bench:fast-path replaces only that section.
describe('the fast-path section of docs/benchmarks.md', () => {
  const section = (text: string) => `${SECTION_START}\n${text}\n${SECTION_END}\n`;

  it('is appended when the document has none', () => {
    expect(withSection('# Benchmarks\n\nsweep table\n', section('new'))).toBe(`# Benchmarks\n\nsweep table\n\n${section('new')}`);
  });

  it('replaces the old section and nothing else', () => {
    const document = `# Benchmarks\n\n${section('old')}\nafter\n`;
    expect(withSection(document, section('new'))).toBe(`# Benchmarks\n\n${section('new').trimEnd()}\n\nafter\n`);
  });
});
