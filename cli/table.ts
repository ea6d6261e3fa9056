/** Plain-text columns for terminals: every column padded but the last, which may be long. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const padded = header.length - 1;
  const widths = header.slice(0, padded).map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => (i < padded ? cell.padEnd(widths[i]!) : cell)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
