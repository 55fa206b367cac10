import { formatBytes } from '../load/limits.js';

export interface SizeRow {
  readonly label: string;
  readonly parameters: number;
}

const FLOAT32_BYTES = 4;

/** A table of parameters and float32 bytes; each row after the first also shows its ratio to the first. */
export function renderSizes(table: HTMLTableElement, rows: readonly SizeRow[]): void {
  const first = rows[0]?.parameters ?? 1;
  table.replaceChildren();
  const head = table.insertRow();
  for (const h of ['', 'parameters', 'bytes (fp32)', 'vs. source']) head.insertCell().textContent = h;
  for (const row of rows) {
    const tr = table.insertRow();
    tr.dataset.parameters = String(row.parameters);
    tr.insertCell().textContent = row.label;
    tr.insertCell().textContent = row.parameters.toLocaleString('en-US');
    tr.insertCell().textContent = formatBytes(row.parameters * FLOAT32_BYTES);
    tr.insertCell().textContent = `${((row.parameters / first) * 100).toFixed(1)} %`;
  }
}
