// @ts-check
// Plain-text tables for the human-readable (non --json) output.

/**
 * @param {string[]} headers
 * @param {string[][]} rows
 */
export function renderTable(headers, rows) {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => String(row[column] ?? '').length)));
  const format = (/** @type {string[]} */ cells) => cells.map((cell, column) => String(cell ?? '').padEnd(widths[column])).join('\t').trimEnd();
  return `${[format(headers), ...rows.map(format)].join('\n')}\n`;
}
