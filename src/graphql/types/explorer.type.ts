import { IsIn, Length, Max, Min } from 'class-validator';
import { ArgsType, Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { EmbeddingRecord, LayerChange as LibLayerChange, ModelComparison as LibModelComparison, Neighbour as LibNeighbour, Projection, TransferReportSummary as LibTransferReport } from '../../explorer/index.js';
import { Model } from './model.type.js';
import { TransferOutcome, TransferStrategy } from './enums.js';
import { JSONScalar } from './json.scalar.js';

export enum EntityKind {
  USER = 'USER',
  ITEM = 'ITEM',
}
registerEnumType(EntityKind, {
  name: 'EntityKind',
  description: "Which embeddings of a model: its users' (user tower outputs) or its items' (item tower outputs).",
});

export enum ProjectionMethod {
  PCA = 'PCA',
  UMAP = 'UMAP',
}
registerEnumType(ProjectionMethod, {
  name: 'ProjectionMethod',
  valuesConfig: {
    PCA: { description: 'The two principal axes: fast and linear; reports the variance share of each axis.' },
    UMAP: { description: 'umap-js with cosine distance: shows clusters; seeded, so the same seed gives the same map.' },
  },
});

export enum ColorBy {
  TAG = 'TAG',
  DOMAIN = 'DOMAIN',
  POPULARITY = 'POPULARITY',
}
registerEnumType(ColorBy, {
  name: 'ColorBy',
  valuesConfig: {
    TAG: { description: "An item's most common tag; a user's most frequent tag in the model's domain. The 12 most frequent are kept, the rest are 'other'." },
    DOMAIN: { description: "An item's domain; the domain holding most of a user's events." },
    POPULARITY: { description: "Events per item (per user: activity), bucketed 'top 1%', 'top 10%', 'rest' over all of the model's rows." },
  },
});

/** The first 100 neighbours at most: an exact search over the whole model. */
export const MAX_NEIGHBOURS_PER_QUERY = 100;
export const MAX_PROJECTION_POINTS = 20_000;

@ArgsType()
export class EmbeddingArgs {
  @Field(() => ID)
  @Length(1, 100)
  modelId!: string;

  @Field(() => EntityKind)
  @IsIn(Object.values(EntityKind))
  kind!: EntityKind;

  @Field(() => ID, { description: 'External id of the user or item (items are looked up in the model domain).' })
  @Length(1, 500)
  id!: string;
}

@ArgsType()
export class NearestNeighborsArgs extends EmbeddingArgs {
  @Field(() => Int, { defaultValue: 10, description: 'How many, 1..100.' })
  @Min(1)
  @Max(MAX_NEIGHBOURS_PER_QUERY)
  first!: number;
}

@ArgsType()
export class EmbeddingProjectionArgs {
  @Field(() => ID)
  @Length(1, 100)
  modelId!: string;

  @Field(() => EntityKind)
  @IsIn(Object.values(EntityKind))
  kind!: EntityKind;

  @Field(() => ProjectionMethod, { defaultValue: ProjectionMethod.PCA })
  @IsIn(Object.values(ProjectionMethod))
  method!: ProjectionMethod;

  @Field(() => Int, { defaultValue: 2000, description: 'Points drawn (a seeded random sample of the model rows; all of them when the model has fewer), 1..20,000.' })
  @Min(1)
  @Max(MAX_PROJECTION_POINTS)
  sample!: number;

  @Field(() => Int, { defaultValue: 1, description: 'Seeds the sample and UMAP.' })
  @Min(0)
  @Max(2 ** 31 - 1)
  seed!: number;

  @Field(() => ColorBy, { defaultValue: ColorBy.TAG })
  @IsIn(Object.values(ColorBy))
  colorBy!: ColorBy;
}

@ArgsType()
export class ModelComparisonArgs {
  @Field(() => ID, { description: 'The reference model (e.g. the pretrained source).' })
  @Length(1, 100)
  a!: string;

  @Field(() => ID, { description: 'The model compared with it (e.g. the transferred model).' })
  @Length(1, 100)
  b!: string;

  @Field(() => Int, { defaultValue: 10, description: 'Neighbours per entity for the overlap, 1..100.' })
  @Min(1)
  @Max(100)
  k!: number;

  @Field(() => Int, { defaultValue: 1000, description: 'Shared entities used as queries for the overlap (seeded sample), 1..20,000.' })
  @Min(1)
  @Max(MAX_PROJECTION_POINTS)
  sample!: number;
}

/** One stored embedding: the model output vector for a user or an item. */
@ObjectType()
export class Embedding {
  @Field(() => ID)
  modelId!: string;

  @Field(() => EntityKind)
  kind!: EntityKind;

  @Field(() => ID, { description: 'External id.' })
  id!: string;

  @Field(() => Int)
  dim!: number;

  @Field(() => [Float])
  vector!: number[];

  @Field(() => Float, { description: 'L2 norm of the vector.' })
  norm!: number;

  static from(e: EmbeddingRecord): Embedding {
    return Object.assign(new Embedding(), { ...e, kind: e.kind as EntityKind, dim: e.vector.length });
  }
}

@ObjectType({ description: 'A user or item whose embedding is close (cosine) to the queried one.' })
export class Neighbor {
  @Field(() => Int, { description: '1-based.' })
  rank!: number;

  @Field(() => ID, { description: 'External id.' })
  id!: string;

  @Field(() => String, { nullable: true, description: 'Item title; null for users and untitled items.' })
  label!: string | null;

  @Field(() => Float, { description: 'Cosine similarity with the queried embedding.' })
  score!: number;

  static from(n: LibNeighbour): Neighbor {
    return Object.assign(new Neighbor(), n);
  }
}

@ObjectType()
export class ProjectionPoint {
  @Field(() => ID, { description: 'External id.' })
  id!: string;

  @Field(() => Float)
  x!: number;

  @Field(() => Float)
  y!: number;

  @Field(() => String, { description: 'Item title, else the external id.' })
  label!: string;

  @Field(() => String, { description: 'The colour group: a tag, a domain name, or a popularity bucket (per colorBy).' })
  color!: string;
}

@ObjectType({ description: "A 2-D map of a model's user or item embeddings." })
export class EmbeddingProjection {
  @Field(() => ID)
  modelId!: string;

  @Field(() => EntityKind)
  kind!: EntityKind;

  @Field(() => ProjectionMethod)
  method!: ProjectionMethod;

  @Field(() => ColorBy)
  colorBy!: ColorBy;

  @Field(() => Int, { description: 'The sample asked for (points has fewer when the model has fewer rows).' })
  sample!: number;

  @Field(() => Int)
  seed!: number;

  @Field(() => [ProjectionPoint])
  points!: ProjectionPoint[];

  @Field(() => [Float], { nullable: true, description: 'PCA only: the share of the variance on each of the two axes.' })
  explainedVariance!: number[] | null;

  @Field(() => Boolean, { description: 'True when the layout was reused (this process, or stored with the model by an earlier call) instead of computed.' })
  cached!: boolean;

  static from(p: Projection, args: EmbeddingProjectionArgs): EmbeddingProjection {
    return Object.assign(new EmbeddingProjection(), {
      modelId: args.modelId,
      kind: args.kind,
      method: p.method as ProjectionMethod,
      colorBy: p.colorBy as ColorBy,
      sample: args.sample,
      seed: args.seed,
      points: p.points.map((q) => ({ ...q, label: q.label ?? q.id })),
      explainedVariance: p.explainedVariance ?? null,
      cached: p.cached,
    });
  }
}

@ObjectType()
export class NeighborOverlap {
  @Field(() => Float, { nullable: true, description: 'Over shared users; null with fewer than 2.' })
  users!: number | null;

  @Field(() => Float, { nullable: true, description: 'Over shared items; null with fewer than 2 (a transfer to another domain shares none).' })
  items!: number | null;
}

@ObjectType({ description: 'How far one weight moved from model a to model b.' })
export class LayerChange {
  @Field(() => String, { description: 'Weight name, e.g. user.dense.0.kernel, item.embedding.' })
  name!: string;

  @Field(() => String, { description: 'dense or table.' })
  kind!: string;

  @Field(() => Float, { nullable: true, description: '||W_b - W_a|| / ||W_a|| (0 = unchanged, e.g. frozen); over the shared rows for ID tables; null when not comparable.' })
  relativeChange!: number | null;

  @Field(() => Boolean, { description: 'False when one model lacks the weight, the shapes differ, or an ID table shares no rows.' })
  comparable!: boolean;

  @Field(() => Int, { nullable: true, description: 'ID tables: the rows compared (entities in both models).' })
  sharedRows!: number | null;

  static from(l: LibLayerChange): LayerChange {
    return Object.assign(new LayerChange(), l);
  }
}

@ObjectType()
export class MetricValue {
  @Field(() => String, { description: 'e.g. hr@10, ndcg@10, mrr.' })
  metric!: string;

  @Field(() => Float)
  value!: number;
}

@ObjectType({ description: 'Gain of the transferred model over the same-budget target-only baseline on one metric.' })
export class MetricGain {
  @Field(() => String)
  metric!: string;

  @Field(() => Float, { description: 'Mean over test users of (transferred - baseline).' })
  value!: number;

  @Field(() => Float, { description: 'Lower end of the paired bootstrap 95% interval.' })
  ciLow!: number;

  @Field(() => Float, { description: 'Upper end of the paired bootstrap 95% interval.' })
  ciHigh!: number;

  @Field(() => Float, { nullable: true, description: 'value / baseline (null when the baseline is 0).' })
  relative!: number | null;
}

@ObjectType()
export class NamedCount {
  @Field(() => String)
  name!: string;

  @Field(() => Int)
  count!: number;
}

@ObjectType({ description: 'Test users grouped by how many training interactions they have.' })
export class TransferStratum {
  @Field(() => String)
  label!: string;

  @Field(() => Int)
  users!: number;

  @Field(() => [MetricValue])
  transferred!: MetricValue[];

  @Field(() => [MetricValue])
  baseline!: MetricValue[];

  @Field(() => [MetricValue])
  popularity!: MetricValue[];
}

@ObjectType({ description: "One trial of AUTO's search: a configuration trained with a rung's budget and scored on the validation carve." })
export class SearchTrial {
  @Field(() => String, { description: 'transfer, or baseline (the same search over target-only settings).' })
  search!: string;

  @Field(() => Int, { description: 'The configuration, in sampling order.' })
  config!: number;

  @Field(() => String, { description: 'The configuration in words.' })
  label!: string;

  @Field(() => JSONScalar, { description: 'The configuration: strategy, freezeLayers, replayWeight and the settings drawn.' })
  settings!: Record<string, unknown>;

  @Field(() => Int, { description: '0 = the cheapest budget; promoted configurations are retrained at the next rung.' })
  rung!: number;

  @Field(() => Int, { description: 'Epochs (implicit ALS: sweeps).' })
  epochs!: number;

  @Field(() => Float, { description: 'The validation metric (see TransferSearch.metric).' })
  validation!: number;

  @Field(() => Float)
  seconds!: number;

  @Field(() => Boolean, { description: "Fitted after the search at the top rung's budget as a blend's candidate partner (TransferSearch.blend); it took no part in choosing the winner." })
  forBlend!: boolean;
}

@ObjectType({ description: "AUTO's best blend on the carve: the winning transfer (implicit-ALS rows) with the best trial of another kind, scores averaged in units of each model's typical score; delivered when its validation gain over the transfer alone is significant." })
export class SearchBlend {
  @Field(() => String, { description: 'The second model, in words, and its epochs (sweeps).' })
  partner!: string;

  @Field(() => Float, { description: "The transfer's weight; the partner's is 1 - weight." })
  weight!: number;

  @Field(() => Float, { description: "The blend's popularity term, profiled on the carve." })
  popularityWeight!: number;

  @Field(() => Float)
  validation!: number;

  @Field(() => MetricGain, { description: 'Its validation gain over the transfer alone (paired bootstrap 95% interval over the carve users).' })
  validationGain!: MetricGain;

  @Field(() => Int, { description: 'Blends scored (other kinds x weights).' })
  tried!: number;

  @Field(() => Boolean, { description: 'Whether the registered model is this blend.' })
  delivered!: boolean;
}

@ObjectType({ description: "AUTO's search: its budget, every trial and what it chose for the transfer and for the baseline." })
export class TransferSearch {
  @Field(() => String, { description: 'Per search: configurations ("16") or minutes ("10m").' })
  budget!: string;

  @Field(() => Int)
  eta!: number;

  @Field(() => Int)
  rungs!: number;

  @Field(() => String, { description: 'How trials are ranked, on the validation carve.' })
  metric!: string;

  @Field(() => Int, { description: "Users in the validation carve (each one's last training event)." })
  validationUsers!: number;

  @Field(() => String, { description: 'The best transfer configuration and its epochs.' })
  chosenTransfer!: string;

  @Field(() => String, { nullable: true, description: "transfer, or target-only when the best transfer's validation gain over the tuned target-only configuration is not significant (AUTO's result is then that model); null for a single domain's search." })
  decision!: string | null;

  @Field(() => MetricGain, { nullable: true, description: "The best transfer's validation gain over the best target-only configuration, on the carve users (paired bootstrap 95% interval), which decides between them; null for a single domain's search." })
  validationGain!: MetricGain | null;

  @Field(() => String, { nullable: true })
  chosenBaseline!: string | null;

  @Field(() => SearchBlend, { nullable: true, description: 'The best blend tried after the search; null when none could be (the winner is not implicit-ALS rows, or no other kind was).' })
  blend!: SearchBlend | null;

  @Field(() => Boolean)
  stoppedByClock!: boolean;

  @Field(() => Float)
  seconds!: number;

  @Field(() => [SearchTrial])
  trials!: SearchTrial[];
}

@ObjectType({ description: 'A reference model trained in the same transfer run (the JOINT model: from scratch on source + target events, same budget), on the same test users and negatives.' })
export class ReferenceModel {
  @Field(() => TransferStrategy)
  strategy!: TransferStrategy;

  @Field(() => [MetricValue], { description: "The reference's test metrics." })
  metrics!: MetricValue[];

  @Field(() => [MetricGain], { description: 'Gain of the transferred model over the reference, per metric, with its paired bootstrap 95% interval (not part of the guard).' })
  gains!: MetricGain[];
}

@ObjectType({ description: 'The transfer report stored with a transferred model.' })
export class TransferReportSummary {
  @Field(() => ID, { description: 'The transferred model the report belongs to.' })
  modelId!: string;

  @Field(() => TransferStrategy, { nullable: true, description: 'The strategy of the transfer; null when AUTO chose no transfer.' })
  strategy!: TransferStrategy | null;

  @Field(() => TransferOutcome)
  outcome!: TransferOutcome;

  @Field(() => Boolean)
  negativeTransfer!: boolean;

  @Field(() => [MetricGain], { description: 'Gain over the same-budget target-only baseline, per metric, with its paired bootstrap 95% interval.' })
  gains!: MetricGain[];

  @Field(() => [MetricGain], { description: 'Gain over popularity on the same users and negatives, per metric (empty for reports written before the popularity guard).' })
  gainsOverPopularity!: MetricGain[];

  @Field(() => Boolean, { nullable: true, description: "The guard's first comparison: the guard metric's interval over the baseline lies above 0 (null for older reports)." })
  beatsBaseline!: boolean | null;

  @Field(() => Boolean, { nullable: true, description: "The guard's second comparison: the guard metric's interval over popularity lies above 0 (null for older reports)." })
  beatsPopularity!: boolean | null;

  @Field(() => ReferenceModel, { nullable: true, description: 'The JOINT reference of a grafting transfer (null for a JOINT transfer, when jointReference was off, and for older reports).' })
  jointReference!: ReferenceModel | null;

  @Field(() => [NamedCount], { description: 'usersInBoth, targetOnlyUsers, usersWithoutTargetHistory, ...' })
  overlap!: NamedCount[];

  @Field(() => [TransferStratum])
  strata!: TransferStratum[];

  @Field(() => TransferSearch, { nullable: true, description: "AUTO's search when it chose the strategy (null otherwise)." })
  search!: TransferSearch | null;

  static from(r: LibTransferReport): TransferReportSummary {
    return Object.assign(new TransferReportSummary(), {
      modelId: r.modelId,
      strategy: r.strategy as TransferStrategy | null,
      outcome: r.outcome as TransferOutcome,
      negativeTransfer: r.negativeTransfer,
      gains: metricGains(r.gain),
      gainsOverPopularity: metricGains(r.gainOverPopularity),
      beatsBaseline: r.guard?.beatsBaseline ?? null,
      beatsPopularity: r.guard?.beatsPopularity ?? null,
      jointReference: r.joint ? { strategy: r.joint.strategy as TransferStrategy, metrics: metricValues(r.joint.metrics), gains: metricGains(r.joint.gain) } : null,
      overlap: byName(r.overlap)
        .filter(([, count]) => typeof count === 'number')
        .map(([name, count]) => ({ name, count })),
      strata: r.strata.map((s) => ({
        label: s.label,
        users: s.users,
        transferred: metricValues(s.transferred),
        baseline: metricValues(s.baseline),
        popularity: metricValues(s.popularity),
      })),
      search: r.search
        ? {
            budget: r.search.budget,
            eta: r.search.eta,
            rungs: r.search.rungs,
            metric: r.search.metric,
            validationUsers: r.search.validationUsers,
            chosenTransfer: `${r.search.transfer.label} (${r.search.transfer.epochs} epochs)`,
            decision: r.search.decision ?? null,
            validationGain: r.search.validationGain
              ? { metric: r.search.metric.split(' ')[0]!, value: r.search.validationGain.value, ciLow: r.search.validationGain.ci95[0], ciHigh: r.search.validationGain.ci95[1], relative: null }
              : null,
            chosenBaseline: r.search.baseline ? `${r.search.baseline.label} (${r.search.baseline.epochs} epochs)` : null,
            blend: r.search.blend
              ? {
                  partner: `${r.search.blend.partner} (${r.search.blend.partnerEpochs} epochs)`,
                  weight: r.search.blend.weight,
                  popularityWeight: r.search.blend.popularityWeight,
                  validation: r.search.blend.validation,
                  validationGain: { metric: r.search.metric.split(' ')[0]!, value: r.search.blend.validationGain.value, ciLow: r.search.blend.validationGain.ci95[0], ciHigh: r.search.blend.validationGain.ci95[1], relative: null },
                  tried: r.search.blend.tried,
                  delivered: r.search.blend.delivered,
                }
              : null,
            stoppedByClock: r.search.stoppedByClock,
            seconds: r.search.seconds,
            trials: r.search.trials.map((t) => ({ ...t, validation: Number.isFinite(t.validation) ? t.validation : 0, forBlend: t.forBlend === true })),
          }
        : null,
    });
  }
}

@ObjectType({ description: 'Two models side by side: neighbourhoods, user vectors, weights, and the transfer report.' })
export class ModelComparison {
  @Field(() => Model)
  a?: Model;

  @Field(() => Model)
  b?: Model;

  aId!: string;
  bId!: string;

  @Field(() => Int)
  k!: number;

  @Field(() => NeighborOverlap, {
    description: 'Mean over sampled shared entities of |top-k in a ∩ top-k in b| / k (cosine, searched among the shared entities): 1 = the same neighbors.',
  })
  neighborOverlap!: NeighborOverlap;

  @Field(() => Float, { nullable: true, description: "Mean cosine between a's and b's embedding of the same user (null when none are shared or widths differ)." })
  meanUserCosine!: number | null;

  @Field(() => Int)
  sharedUsers!: number;

  @Field(() => Int)
  sharedItems!: number;

  @Field(() => [LayerChange], { description: "Per weight: how far b moved from a (fine-tuning from a pretrained model: frozen layers show 0)." })
  layers!: LayerChange[];

  @Field(() => TransferReportSummary, { nullable: true, description: "The report of whichever model was transferred from the other, else b's, else a's." })
  transferReport!: TransferReportSummary | null;

  static from(c: LibModelComparison): ModelComparison {
    return Object.assign(new ModelComparison(), {
      aId: c.a,
      bId: c.b,
      k: c.k,
      neighborOverlap: Object.assign(new NeighborOverlap(), c.neighbourOverlap),
      meanUserCosine: c.meanUserCosine,
      sharedUsers: c.sharedUsers,
      sharedItems: c.sharedItems,
      layers: c.layers.map(LayerChange.from),
      transferReport: c.transferReport ? TransferReportSummary.from(c.transferReport) : null,
    });
  }
}

@ObjectType()
export class EpochPoint {
  @Field(() => Int, { description: '1-based.' })
  epoch!: number;

  @Field(() => Float, { description: 'Mean training loss of the epoch.' })
  loss!: number;

  @Field(() => Float, { nullable: true, description: 'Validation metric after the epoch, on the validation carve (what it measures: TrainingCurve.validationMetric); null without validation.' })
  validation!: number | null;
}

@ObjectType({ description: 'One training run of a model: the pretraining, the transfer fine-tuning, or the same-budget baseline trained next to it.' })
export class TrainingSeries {
  @Field(() => String, { description: 'training (pretraining), transfer, or baseline.' })
  phase!: string;

  @Field(() => [EpochPoint])
  points!: EpochPoint[];
}

export enum TrainingCurveSource {
  JOB_EVENTS = 'JOB_EVENTS',
  MODEL_METRICS = 'MODEL_METRICS',
  NONE = 'NONE',
}
registerEnumType(TrainingCurveSource, {
  name: 'TrainingCurveSource',
  valuesConfig: {
    JOB_EVENTS: { description: "The epoch events of the job that trained the model (a transfer job also has its baseline's)." },
    MODEL_METRICS: { description: 'The epoch history stored in the model metrics (models trained by the CLI or the demo).' },
    NONE: { description: 'The model has no recorded epochs.' },
  },
});

@ObjectType({ description: 'Loss and validation metric per epoch of the run that produced a model.' })
export class TrainingCurve {
  @Field(() => ID)
  modelId!: string;

  @Field(() => ID, { nullable: true })
  jobId!: string | null;

  @Field(() => TrainingCurveSource)
  source!: TrainingCurveSource;

  @Field(() => [TrainingSeries])
  series!: TrainingSeries[];

  @Field(() => Int, { nullable: true, description: 'Epoch whose weights were kept (early stopping restores the best).' })
  bestEpoch!: number | null;

  @Field(() => Int, { nullable: true, description: 'Softmax towers: epochs of item-row refinement kept after bestEpoch (the curve\'s later epochs are that stage: item rows alone against the fixed user tower); 0 = tried and put back, null = not tried.' })
  refinedEpochs!: number | null;

  @Field(() => String, { nullable: true, description: 'What the validation points measure, e.g. "ndcg@10 (sampled, 999 negatives)": the run\'s own evaluation measure; null for a model stored before this was recorded (then hr@10 against 99 sampled negatives) or without validation.' })
  validationMetric!: string | null;
}

function metricValues(values: Record<string, number> | undefined): MetricValue[] {
  return byName(values ?? {}).map(([metric, value]) => ({ metric, value }));
}

/** Entries sorted by key: reports are stored as jsonb, which does not keep the order keys were written in. */
function byName<T>(record: Record<string, T>): Array<[string, T]> {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function metricGains(gains: LibTransferReport['gain']): MetricGain[] {
  return byName(gains).map(([metric, g]) => ({ metric, value: g.value, ciLow: g.ci95[0], ciHigh: g.ci95[1], relative: g.relative ?? null }));
}
