import type { EvaluationReport } from './evaluate.js';

/**
 * A plain-text table for the CLI: one row per stratum plus "all", one column per metric,
 * with the popularity baseline's overall row under the model's when it is given.
 *
 * @example
 * console.log(formatReport(model, popularity));
 */
export function formatReport(report: EvaluationReport, baseline?: EvaluationReport): string {
  const keys = Object.keys(report.metrics);
  const header = ['', 'users', ...keys];
  const rows: string[][] = [];
  const row = (name: string, users: number, metrics: Record<string, number>): string[] => [
    name,
    String(users),
    ...keys.map((key) => formatValue(key, metrics[key])),
  ];
  rows.push(row('all', report.users, report.metrics));
  if (baseline !== undefined) rows.push(row('popularity', baseline.users, baseline.metrics));
  // strata are labelled by the users' number of training interactions
  for (const stratum of report.strata) rows.push(row(`train ${stratum.label}`, stratum.users, stratum.metrics));
  const table = [header, ...rows];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((r) => (r[column] ?? '').length)));
  const lines = table.map((r) => r.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  '));
  const title =
    `protocol ${report.protocol}` +
    (report.negatives !== undefined ? ` (${report.negatives} negatives)` : '') +
    `, seed ${report.seed}, ties ${report.ties}, ${report.users} users, ${report.candidates} candidate items`;
  return [title, lines[0]!, '-'.repeat(lines[0]!.length), ...lines.slice(1)].join('\n');
}

function formatValue(key: string, value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '-';
  return key.startsWith('popularity@') ? value.toFixed(1) : value.toFixed(4);
}
