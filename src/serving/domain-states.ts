import type { GraftDatabase } from '../db/connect.js';
import type { CandidateIndex } from '../retrieval/candidate-index.js';
import { buildAndSaveHnsw, loadDomainState, type DomainState } from './domain-state.js';
import type { ServingLogger } from './recommendation.types.js';

interface DomainEntry {
  current: DomainState | null;
  loading: Promise<DomainState> | null;
  /** The active model id that triggered the load in flight (watcher de-duplication). */
  loadingFor: string | null | undefined;
  generation: number;
  applied: number;
}

export interface DomainStatesOptions {
  hnswThreshold: number;
  logger: ServingLogger;
  /** Called once a loaded state is in service with its final index (HNSW built or not needed). */
  onIndexReady: (state: DomainState) => void;
  /** How a loaded state is described in the log. */
  describe: (state: DomainState) => object;
}

/**
 * The domains in memory: loads each on first use (concurrent callers share one load), swaps in
 * a new state when its active model changes (the newest load wins), keeps the item matrix as
 * artifacts after a first load, and builds the HNSW index in the background above the threshold.
 * The `Recommender` asks it for states; it knows nothing of users or rankings.
 */
export class DomainStates {
  private readonly entries = new Map<string, DomainEntry>();
  private readonly hnswBuilds = new Map<string, Promise<CandidateIndex | null>>();
  private closed = false;

  constructor(
    private readonly gdb: GraftDatabase,
    private readonly options: DomainStatesOptions,
  ) {}

  /** The domain's state in service, loading it first if needed. */
  get(domain: string): Promise<DomainState> {
    const entry = this.entries.get(domain);
    if (entry?.current) return Promise.resolve(entry.current);
    if (entry?.loading) return entry.loading;
    return this.load(domain);
  }

  /** The state in service now (undefined: not loaded). */
  current(domain: string): DomainState | undefined {
    return this.entries.get(domain)?.current ?? undefined;
  }

  /** Every state in service. */
  all(): DomainState[] {
    return [...this.entries.values()].flatMap((e) => (e.current ? [e.current] : []));
  }

  /** Names of the domains loaded or loading (what the activation watcher follows). */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** Resolves when the model's HNSW build in flight (if any) has ended. */
  async hnswSettled(modelId: string): Promise<void> {
    await this.hnswBuilds.get(modelId);
  }

  /** Starts a load; the newest load to finish among those started last wins (an older one finishing later is dropped). */
  load(domain: string, forModel?: string | null): Promise<DomainState> {
    let entry = this.entries.get(domain);
    if (!entry) {
      entry = { current: null, loading: null, loadingFor: undefined, generation: 0, applied: 0 };
      this.entries.set(domain, entry);
    }
    const own = entry;
    const generation = ++own.generation;
    const promise = loadDomainState(this.gdb, domain, {
      hnswThreshold: this.options.hnswThreshold,
      logger: this.options.logger,
      // A first load reads whatever is active: once it knows which model, the watcher's report of that same model is not news.
      onActiveModelRead: (modelId) => {
        if (own.generation === generation && own.loadingFor === undefined) own.loadingFor = modelId;
      },
    }).then(
      (state) => {
        if (generation > own.applied && !this.closed) {
          own.current = state;
          own.applied = generation;
          this.options.logger.info(this.options.describe(state), 'serving domain loaded');
          this.saveMatrixArtifacts(state);
          this.startHnswBuild(state);
          // Rankings are per index kind: with an HNSW index coming, the state is ready once it is in.
          if (!state.model?.wantsHnsw || state.model.hnsw) this.options.onIndexReady(state);
        }
        return own.current ?? state;
      },
      (error: unknown) => {
        // Nothing cached for a domain that failed its first load (e.g. NOT_FOUND: it may be created later).
        if (own.current === null && own.generation === generation && this.entries.get(domain) === own) this.entries.delete(domain);
        throw error;
      },
    );
    own.loading = promise;
    own.loadingFor = forModel;
    const settled = () => {
      if (own.loading !== promise) return;
      own.loading = null;
      own.loadingFor = undefined;
    };
    promise.then(settled, settled);
    return promise;
  }

  /** The activation watcher's report: reload a loaded domain whose active model is not the one in service (or loading). */
  activeModelSeen(domain: string, modelId: string | null): void {
    if (this.closed) return;
    const entry = this.entries.get(domain);
    if (!entry) return; // not loaded here: its first request reads the active model anyway
    if (entry.loading && entry.loadingFor === modelId) return;
    if (!entry.loading && entry.current && (entry.current.model?.modelId ?? null) === modelId) return;
    this.options.logger.info({ domain, modelId }, 'active model changed; reloading the domain');
    this.load(domain, modelId).catch((error: Error) => this.options.logger.warn({ domain, modelId, error: error.message }, 'reloading the domain failed; still serving the previous state'));
  }

  close(): void {
    this.closed = true;
    this.entries.clear();
  }

  /** First load of a model anywhere: keep its item rows as binary artifacts so the next load is one read. */
  private saveMatrixArtifacts(state: DomainState): void {
    const model = state.model;
    const save = model?.saveArtifacts;
    if (!model || !save) return;
    model.saveArtifacts = null;
    if (this.closed) return;
    save().catch((error: Error) => this.options.logger.warn({ domain: state.domain, modelId: model.modelId, error: error.message }, 'saving the item matrix artifacts failed; the next load reads the embeddings table'));
  }

  /** Above the threshold without a saved index: serve exactly now, build HNSW on a worker thread, save it, swap it in. */
  private startHnswBuild(state: DomainState): void {
    const model = state.model;
    if (!model || !model.wantsHnsw || model.hnsw) return;
    const logger = this.options.logger;
    let build = this.hnswBuilds.get(model.modelId);
    if (!build) {
      logger.info({ domain: state.domain, modelId: model.modelId, rows: model.rowPosition.length }, 'building the HNSW index in the background');
      build = buildAndSaveHnsw(this.gdb, model, () => !this.closed).catch((error: Error) => {
        logger.warn({ domain: state.domain, modelId: model.modelId, error: error.message }, 'building the HNSW index failed; serving with the exact index');
        return null;
      });
      this.hnswBuilds.set(model.modelId, build);
      void build.finally(() => this.hnswBuilds.delete(model.modelId));
    }
    void build.then((index) => {
      if (index && !model.hnsw) {
        model.hnsw = index;
        logger.info({ domain: state.domain, modelId: model.modelId }, 'HNSW index ready');
      }
      this.options.onIndexReady(state);
    });
  }
}
