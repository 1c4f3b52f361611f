/**
 * The in-memory form of one domain's behaviour log, built for training: typed arrays,
 * no per-event JS objects. Indexes are dense (0..n-1) and map to external ids both ways.
 */

/** Dense index <-> external id, both ways. */
export interface Vocabulary {
  /** `ids[index]` is the external id. */
  readonly ids: readonly string[];
  /** Database row id for each dense index (`users.id` / `items.id`). */
  readonly dbIds: Int32Array;
  /** External id -> dense index. */
  readonly index: ReadonlyMap<string, number>;
  readonly size: number;
}

/** Interactions as parallel typed arrays (struct of arrays), sorted by time. Length = `users.length`. */
export interface Interactions {
  /** Dense user index per interaction. */
  readonly users: Int32Array;
  /** Dense item index per interaction. */
  readonly items: Int32Array;
  /** Event weight per interaction. */
  readonly weights: Float32Array;
  /** `occurred_at` in milliseconds since the epoch. */
  readonly times: Float64Array;
}

/**
 * Per-user histories in compressed sparse row form: the items of user `u` are
 * `items[offsets[u] .. offsets[u + 1])`, in time order.
 */
export interface UserHistories {
  /** `[users + 1]` */
  readonly offsets: Int32Array;
  readonly items: Int32Array;
  readonly times: Float64Array;
  readonly weights: Float32Array;
}

/** Content tokens per item in CSR form: `tokens[offsets[i] .. offsets[i + 1])` are item i's tags. */
export interface ItemTokens {
  readonly offsets: Int32Array;
  readonly tokens: readonly string[];
}

/** One domain's log, read through Kysely. */
export interface Dataset {
  readonly domain: string;
  readonly domainId: number;
  readonly users: Vocabulary;
  readonly items: Vocabulary;
  /** All interactions, ordered by (occurred_at, id). */
  readonly interactions: Interactions;
  readonly histories: UserHistories;
  /** Tags of every item in the vocabulary (empty lists for ID-only data). */
  readonly itemTokens: ItemTokens;
}

/** A train/test (and optional validation) partition of a dataset's interactions. */
export interface Split {
  readonly train: Interactions;
  readonly test: Interactions;
  readonly validation?: Interactions;
}
