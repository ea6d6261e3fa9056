import { escapeInvisible } from '../functions/shared/sanitize.ts';

/**
 * Plain-text columns for terminals: every column padded but the last, which may be long. Cells
 * carry tag values: an escape sequence or a line break in one is shown, never acted on.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const safeRows = rows.map((row) => row.map(escapeInvisible));
  const padded = header.length - 1;
  const widths = header.slice(0, padded).map((h, i) => Math.max(h.length, ...safeRows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => (i < padded ? cell.padEnd(widths[i]!) : cell)).join('  ').trimEnd();
  return [line(header), ...safeRows.map(line)].join('\n');
}
