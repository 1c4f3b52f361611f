import type { ModelMetrics } from '../workflows/trained-model.js';

/** A small aligned table: model vs popularity, overall and per stratum. */
export function formatMetrics(metrics: Pick<ModelMetrics, 'test' | 'popularity' | 'strata' | 'protocol' | 'users'>): string {
  const keys = Object.keys(metrics.test).filter((k) => /^(hr|ndcg|recall)@/.test(k) || k === 'mrr');
  const header = ['', 'users', ...keys];
  const row = (label: string, users: number | string, values: Record<string, number> | undefined) => [
    label,
    String(users),
    ...keys.map((k) => (values?.[k] === undefined ? '-' : values[k]!.toFixed(4))),
  ];
  const rows = [header, row('model', metrics.users, metrics.test), row('popularity', metrics.users, metrics.popularity)];
  for (const s of metrics.strata) {
    if (s.users === 0) continue;
    rows.push(row(`  ${s.label} train`, s.users, s.metrics));
    rows.push(row(`  ${s.label} popularity`, s.users, s.popularity));
  }
  const widths = header.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  return [`${metrics.protocol} protocol`, ...lines].join('\n');
}
