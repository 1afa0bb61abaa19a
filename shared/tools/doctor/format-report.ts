import type { TableReport } from './diagnose.ts';

const MARK = { ok: 'ok', info: 'info', warning: 'WARN', error: 'FAIL' } as const;

/** Pads columns to a plain-text table; the last column is not padded. */
export function textTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/**
 * The human-readable doctor report: one line per check, then the fixes, numbered, and a verdict.
 *
 * @example
 * TABLE   CHECK         RESULT  DETAIL
 * orders  unique index  FAIL    none matches (id): ...
 */
export function formatDoctorReport(reports: readonly TableReport[]): string {
  const rows: string[][] = [['TABLE', 'CHECK', 'RESULT', 'DETAIL']];
  const fixes: string[] = [];
  for (const report of reports) {
    if (report.status === 'unchecked') {
      rows.push([report.table, '-', 'ERROR', `could not check: ${report.error ?? 'unknown error'}`]);
      continue;
    }
    for (const check of report.checks) {
      rows.push([report.table, check.check, MARK[check.severity], check.message]);
      if (check.fix.length) fixes.push(`-- ${report.table}: ${check.check}`, ...check.fix);
    }
  }
  const healthy = reports.filter((r) => r.status === 'healthy').length;
  const findings = reports.filter((r) => r.status === 'findings').length;
  const unchecked = reports.filter((r) => r.status === 'unchecked').length;
  const verdict = `${reports.length} table(s): ${healthy} healthy, ${findings} with findings, ${unchecked} not checked`;
  return [textTable(rows), ...(fixes.length ? ['', 'Fixes:', ...fixes.map((f) => `  ${f}`)] : []), '', verdict, ''].join('\n');
}
