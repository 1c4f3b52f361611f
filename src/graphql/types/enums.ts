import { registerEnumType } from 'type-graphql';

/** API key roles: ADMIN may do everything, ANALYST the analyst queries and what APP may do, APP only app operations. */
export enum Role {
  APP = 'APP',
  ANALYST = 'ANALYST',
  ADMIN = 'ADMIN',
}
registerEnumType(Role, { name: 'Role', description: 'What an API key may do: ADMIN > ANALYST > APP.' });

/** GraphQL names for the log's event kinds (stored lower-case). */
export enum EventKind {
  VIEW = 'view',
  CLICK = 'click',
  PURCHASE = 'purchase',
  RATING = 'rating',
}
registerEnumType(EventKind, { name: 'EventKind' });

export enum RecommendationTier {
  PERSONAL = 'PERSONAL',
  TRANSFERRED = 'TRANSFERRED',
  COLD_START = 'COLD_START',
  POPULAR = 'POPULAR',
}
registerEnumType(RecommendationTier, {
  name: 'RecommendationTier',
  description: 'Why a user got these items.',
  valuesConfig: {
    PERSONAL: { description: "From the user's own embedding, learnt from their history in this domain." },
    TRANSFERRED: { description: 'From the embedding transferred from another domain: the user has no history here yet.' },
    COLD_START: { description: "From the user's recent items in this domain (they arrived after the model was trained)." },
    POPULAR: { description: 'Popular items: unknown user, or no active model in the domain.' },
  },
});

export enum ModelStatus {
  TRAINING = 'TRAINING',
  READY = 'READY',
  FAILED = 'FAILED',
  ACTIVE = 'ACTIVE',
  RETIRED = 'RETIRED',
}
registerEnumType(ModelStatus, { name: 'ModelStatus' });

export enum ModelKind {
  PRETRAIN = 'PRETRAIN',
  TRANSFER = 'TRANSFER',
  BASELINE = 'BASELINE',
}
registerEnumType(ModelKind, { name: 'ModelKind' });

export enum TransferOutcome {
  TRANSFER = 'TRANSFER',
  TARGET_ONLY = 'TARGET_ONLY',
}
registerEnumType(TransferOutcome, {
  name: 'TransferOutcome',
  description: 'What a transfer job produced.',
  valuesConfig: {
    TRANSFER: { description: 'A transferred model, judged by the guard against its target-only baseline and popularity.' },
    TARGET_ONLY: { description: 'No transfer: AUTO found no transfer that beat the tuned target-only model on validation, so that model is the result (a single-domain model; only the popularity check guards it).' },
  },
});

export enum TransferStrategy {
  FEATURE_EXTRACTION = 'FEATURE_EXTRACTION',
  PARTIAL = 'PARTIAL',
  FULL = 'FULL',
  JOINT = 'JOINT',
  AUTO = 'AUTO',
}
registerEnumType(TransferStrategy, {
  name: 'TransferStrategy',
  valuesConfig: {
    FEATURE_EXTRACTION: { description: 'All pretrained layers frozen; only new rows (target items, new users) train.' },
    PARTIAL: { description: 'The lowest freezeLayers layers of each tower frozen (layer 0 = embedding tables).' },
    FULL: { description: 'Everything trains; pretrained parts at a lower learning rate.' },
    JOINT: { description: "No pretrained weights: one model of the source model's config trained from scratch on the target and source events together (source events at weight 1, all of them every epoch); replay settings do not apply." },
    AUTO: { description: "Input only (the default): successive-halving search over the strategies, replay weight and the objective's settings on a validation carve of the target's training data; the baseline gets the same search. A model stores the strategy AUTO chose." },
  },
});

export enum TrainingObjective {
  SOFTMAX = 'softmax',
  IMPLICIT_ALS = 'implicit-als',
  HYBRID = 'hybrid',
}
registerEnumType(TrainingObjective, {
  name: 'TrainingObjective',
  valuesConfig: {
    SOFTMAX: { description: 'Two towers (ID rows, tags, history, MLP) trained by an in-batch sampled softmax on cosine similarities (raw inner products with scoring INNER_PRODUCT).' },
    IMPLICIT_ALS: { description: 'ID rows only, solved per row by implicit ALS; scores are raw inner products (layers must be empty; epochs count sweeps).' },
    HYBRID: { description: 'ID rows solved by implicit ALS (alsSweeps), then an MLP residual above them (tags and history enter there; layers end at dim) trained by the in-batch softmax with the ID rows frozen; scores are raw inner products.' },
  },
});

/** How the softmax towers' outputs score (the `scoring` setting). */
export enum Scoring {
  COSINE = 'cosine',
  INNER_PRODUCT = 'inner-product',
}
registerEnumType(Scoring, {
  name: 'Scoring',
  valuesConfig: {
    COSINE: { description: "Both towers' outputs L2-normalised: logits are cosines divided by the temperature." },
    INNER_PRODUCT: { description: "Raw outputs: logits are inner products divided by the temperature, so an item's length can carry its popularity." },
  },
});

/** Where the softmax towers' ID rows start (the `rowInit` setting). */
export enum RowInit {
  IMPLICIT_ALS = 'implicit-als',
  RANDOM = 'random',
}
registerEnumType(RowInit, {
  name: 'RowInit',
  valuesConfig: {
    IMPLICIT_ALS: { description: "Solved first by implicit ALS on the run's training events, rescaled to the random draw's size." },
    RANDOM: { description: "The initialiser's random draw." },
  },
});

/** How a run's test set is ranked (the `protocol` setting). */
export enum EvaluationProtocol {
  FULL = 'full',
  SAMPLED = 'sampled',
}
registerEnumType(EvaluationProtocol, {
  name: 'EvaluationProtocol',
  valuesConfig: {
    FULL: { description: 'Each test item ranked against the whole catalogue (minus what the user saw in training).' },
    SAMPLED: { description: 'Each test item ranked against `negatives` items drawn uniformly from those the user has not interacted with.' },
  },
});
