/**
 * The MMP's output shapes: `Label : value` blocks with the labels padded to
 * one column, and CMS's `2017-Aug-13 07:27:58` timestamps.
 */

/** Rows of `label : value`, labels padded to the longest (or `width`). */
export function labelled(rows: ReadonlyArray<readonly [string, string]>, width?: number): string {
  const w = width ?? Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(w)} : ${value}`).join('\n');
}

/** Columns separated by two spaces, each padded to its widest cell; the last is not padded. */
export function table(rows: ReadonlyArray<readonly string[]>): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Local time as CMS prints it: `YYYY-Mon-DD HH:MM:SS`. */
export function cmsTime(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${MONTHS[date.getMonth()]}-${p(date.getDate())} ${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}`;
}

/** `<none>` for unset values, as the reference prints them. */
export function orNone(value: string | null | undefined): string {
  return value === null || value === undefined || value === '' ? '<none>' : value;
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
