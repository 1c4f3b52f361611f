import type { ItemAudienceChoice, RowInitChoice, ScoringChoice } from '../workflows/pretrain.workflow.js';
import { describeValidationGain, type SearchReport } from '../transfer/transfer-report.js';
import type { HeldOutDrops } from '../dataset/splits.js';
import type { ModelMetrics } from '../workflows/trained-model.js';
import type { TopShares } from '../model/two-tower.model.js';
import type { PopularityTermChoice } from '../workflows/popularity-term.js';

/** A small aligned table: model vs popularity, overall and per stratum (or why there is none). */
export function formatMetrics(metrics: Pick<ModelMetrics, 'test' | 'popularity' | 'strata' | 'protocol' | 'users'>): string {
  if (metrics.users === 0) return 'no test user was evaluated: no metrics (see the test set line for why)';
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

/**
 * One line on what was evaluated and what was left out, e.g.
 * `test set: 7,540 users and 7,540 rows evaluated; 3 pairs left out: 1 header line read as data, 2 with an item not in cloth's training data`.
 * `unknownUser` says what an unknown user is for the command (no events in the domain, or in neither domain).
 */
export function formatTestSet(evaluated: { users: number; rows?: number }, dropped: HeldOutDrops | undefined, unknownUser: string, domain: string): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const head = `test set: ${n(evaluated.users)} users and ${n(evaluated.rows ?? 0)} rows evaluated`;
  const d = dropped ?? { header: 0, unknownUser: 0, unknownItem: 0 };
  const reasons = [
    d.header > 0 && `${n(d.header)} header line read as data (the file has a header: remove it)`,
    d.unknownUser > 0 && `${n(d.unknownUser)} with ${unknownUser}`,
    d.unknownItem > 0 && `${n(d.unknownItem)} with an item not in ${domain}'s training data`,
  ].filter(Boolean);
  const total = d.header + d.unknownUser + d.unknownItem;
  return total === 0 ? `${head}; no test pair left out` : `${head}; ${n(total)} pairs left out: ${reasons.join(', ')}`;
}

/** What `unknownUser` means for a model trained on `domain` alone. */
export function unknownUserInDomain(domain: string): string {
  return `a user without events in ${domain} (cold-start: a model trained on ${domain} alone cannot score them; \`graft transfer\` scores users with source history from their transferred rows)`;
}

/** The popularity term a plain run chose on its carve: `popularity term: β 0.1, chosen on the validation carve by ndcg@10 (...): 0.0705 without it, 0.0722 with it; ...`. */
export function formatPopularityTerm(choice: PopularityTermChoice, metric: string): string {
  const without = `${choice.carveWithout.toFixed(4)} without it`;
  return choice.beta === 0
    ? `popularity term: none, chosen on the validation carve by ${metric}: no weight beat ${without}; --popularity-weight W sets one`
    : `popularity term: β ${choice.beta}, chosen on the validation carve by ${metric}: ${without}, ${choice.carveWith.toFixed(4)} with it; --popularity-weight 0 turns it off`;
}

/** The softmax fit's item-row refinement: `item rows refined for 5 more epochs after epoch 3, ...` or why it was not kept. */
export function formatItemRowRefinement(training: { bestEpoch?: number; refinedEpochs?: number }): string {
  return training.refinedEpochs
    ? `item rows refined for ${training.refinedEpochs} more epoch${training.refinedEpochs === 1 ? '' : 's'} after epoch ${training.bestEpoch}, every other weight frozen (kept: better on the validation carve); --no-refine-item-rows turns it off`
    : 'item rows refinement tried and not kept (no better on the validation carve)';
}

/** A hybrid's top kept on the carve: `top: 1 epoch; the user tower's at 1/8, the item tower's at 1/32, chosen on the validation carve` (a number: one share for both towers, as models stored before each tower chose its own hold). */
export function formatTopShare(topShare: TopShares | number, bestEpoch: number | undefined): string {
  const share = (s: number) => (s === 0 ? '0 (its ID row alone)' : s === 1 ? '1 (as trained)' : `1/${1 / s}`);
  const epochs = `${bestEpoch ?? '?'} epoch${bestEpoch === 1 ? '' : 's'}`;
  const s = topShare;
  return typeof s === 'number'
    ? `top: ${epochs}, both towers' at ${share(s)}, chosen on the validation carve`
    : `top: ${epochs}; the user tower's at ${share(s.user)}, the item tower's at ${share(s.item)}, chosen on the validation carve`;
}

/** The item audience the delivered softmax winner of `graft train --auto` kept on the carve. */
export function formatItemAudience(choice: ItemAudienceChoice, metric: string): string {
  return `item audience: ${choice.chosen ? 'on' : 'off'}, chosen on the validation carve by ${metric} (the winner fitted both ways): ${choice.carveWithout.toFixed(4)} without it, ${choice.carveWith.toFixed(4)} with it`;
}

/** The softmax towers' scoring, chosen on the carve when the run left `--scoring` out: `scoring: inner-product, chosen on ...: cosine 0.0671, inner-product 0.0695`. */
export function formatScoringChoice(choice: ScoringChoice, metric: string): string {
  return `scoring: ${choice.chosen}, chosen on the validation carve by ${metric} (fitted each way): ${choice.carve.map((c) => `${c.scoring} ${c.score.toFixed(4)}`).join(', ')}; --scoring ${choice.chosen} fits it once`;
}

/** Where the softmax towers' rows started, chosen on the carve when the run left `--row-init` out: `row start: implicit-als, chosen on ...: implicit-als 0.0768, random 0.0671 (random over implicit-als -0.0097 [...])`. */
export function formatRowInitChoice(choice: RowInitChoice, metric: string): string {
  const g = choice.gain;
  return `row start: ${choice.chosen}, chosen on the validation carve by ${metric} (fitted from each start): ${choice.carve.map((c) => `${c.rowInit} ${c.score.toFixed(4)}`).join(', ')} (${g.rowInit} over ${choice.carve[0]!.rowInit} ${g.mean >= 0 ? '+' : ''}${g.mean.toFixed(4)} [${g.ci95[0].toFixed(4)}, ${g.ci95[1].toFixed(4)}]); --row-init ${choice.chosen} fits it once`;
}

/** AUTO's trial table (both searches) and what it chose. */
export function formatSearch(search: SearchReport): string[] {
  const lines = [
    `AUTO: budget ${search.budget} per search, eta ${search.eta}, ${search.rungs} rungs; trials ranked by validation ${search.metric} on ${search.validationUsers} users (each one's last training event)${search.stoppedByClock ? '; stopped by the clock' : ''}`,
    `${'search'.padEnd(9)} ${'#'.padStart(3)} ${'rung'.padStart(4)} ${'epochs'.padStart(6)} ${'valid.'.padStart(7)} ${'s'.padStart(6)}  settings`,
  ];
  for (const t of search.trials) {
    lines.push(`${t.search.padEnd(9)} ${String(t.config).padStart(3)} ${String(t.rung).padStart(4)} ${String(t.epochs).padStart(6)} ${t.validation.toFixed(4).padStart(7)} ${t.seconds.toFixed(1).padStart(6)}  ${t.label}${t.forBlend ? ' (fitted for the blend, after the search)' : ''}`);
  }
  if (search.decision === 'target-only') {
    lines.push(
      `chosen: NO TRANSFER, the target-only ${search.baseline!.label} (${search.baseline!.epochs} epochs): the best transfer, ${search.transfer.label}, scored ${search.transfer.validation.toFixed(4)} on validation against ${search.baseline!.validation.toFixed(4)}${describeValidationGain(search)}, not a gain with 95% confidence; retrained on all training data (${search.seconds.toFixed(0)} s of search)`,
    );
  } else {
    lines.push(`chosen: ${search.transfer.label} (${search.transfer.epochs} epochs)${search.baseline ? `; baseline ${search.baseline.label} (${search.baseline.epochs} epochs)` : ''}${search.validationGain ? `; validation${describeValidationGain(search)}` : ''}; retrained on all training data (${search.seconds.toFixed(0)} s of search)`);
  }
  const blend = search.blend;
  if (blend) {
    const gain = blend.validationGain;
    lines.push(
      `blend: ${blend.delivered ? 'delivered' : 'not delivered'}, the transfer at weight ${blend.weight} with ${blend.partner} (${blend.partnerEpochs} epochs), popularity ${blend.popularityWeight}: validation ${blend.validation.toFixed(4)}, ${gain.value >= 0 ? '+' : ''}${gain.value.toFixed(4)} [${gain.ci95[0].toFixed(4)}, ${gain.ci95[1].toFixed(4)}] over the transfer alone (best of ${blend.tried} tried)`,
    );
  }
  return lines;
}
