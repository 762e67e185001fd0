/**
 * A small RFC 4180 CSV reader for replay files (quoted fields, "" escapes,
 * CRLF or LF). Replay files are small recordings, read once at start.
 */
import type { Value } from '../model/generators.js';

export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** Numbers become numbers, true/false booleans, everything else stays text. */
export function csvValue(cell: string): Value {
  const t = cell.trim();
  if (t === 'true' || t === 'false') return t === 'true';
  if (t !== '' && Number.isFinite(Number(t))) return Number(t);
  return cell;
}

/** The rows of one column (header row first), or a message saying what is wrong. */
export function csvColumn(text: string, column: string): { values: Value[] } | { problem: string } {
  const rows = parseCsv(text);
  const header = rows[0];
  if (!header) return { problem: 'the file is empty; expected a header row and at least one data row' };
  const col = header.findIndex((h) => h.trim() === column);
  if (col < 0) return { problem: `no column "${column}"; the header has ${header.map((h) => `"${h.trim()}"`).join(', ')}` };
  const values: Value[] = [];
  for (let r = 1; r < rows.length; r++) {
    const cell = (rows[r] as string[])[col];
    if (cell === undefined || cell.trim() === '') return { problem: `row ${r + 1} has no value in column "${column}"` };
    values.push(csvValue(cell));
  }
  if (values.length === 0) return { problem: 'the file has a header but no data rows' };
  return { values };
}
