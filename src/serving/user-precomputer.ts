import type { GraftDatabase } from '../db/connect.js';
import type { DomainState } from './domain-state.js';
import { compileExclusion } from './item-filter.js';
import { rankRows, RANKING_LADDER, type Ranking } from './ranking.js';
import type { ServingLogger } from './recommendation.types.js';
import { requestFingerprint } from './request-checks.js';
import type { ServingCache } from './serving-cache.js';
import { readServingUsers, readUsersToPrecompute } from './serving-repository.js';
import { HISTORY_LIMIT, resolveFound, userVector, type ResolvedUser } from './user-resolver.js';

/** Users read per statement while precomputing. */
const PRECOMPUTE_BATCH = 500;
/** Longest stretch of precomputation between two turns of the event loop (requests go on meanwhile). */
const PRECOMPUTE_SLICE_MS = 5;

export interface UserPrecomputerOptions {
  /** Users per domain (0 = off). */
  limit: number;
  logger: ServingLogger;
  /** The serving cache of a state, where precomputed users go. */
  cacheOf: (state: DomainState) => ServingCache<ResolvedUser>;
  /** Whether the state is still the one in service (precomputation stops when it is replaced). */
  inService: (state: DomainState) => boolean;
}

/**
 * Precomputes a loaded domain's most recently active users (then the model's users without
 * events in the domain: TRANSFERRED): their resolution and first ranking step go into the
 * state's serving cache, so their first request reads and searches nothing.
 */
export class UserPrecomputer {
  /** The precomputation of each loaded domain state (resolves to the users stored). */
  private readonly runs = new WeakMap<DomainState, Promise<number>>();

  constructor(
    private readonly gdb: GraftDatabase,
    private readonly options: UserPrecomputerOptions,
  ) {}

  get enabled(): boolean {
    return this.options.limit > 0;
  }

  /** Starts (or with `again`, restarts) precomputing the state's users, unless off, out of service or already running. */
  start(state: DomainState, again = false): void {
    if (!this.enabled || !state.model || !this.options.inService(state)) return;
    const running = this.runs.get(state);
    if (running && !again) return;
    const run = (running ?? Promise.resolve(0)).catch(() => 0).then(() => this.precompute(state));
    this.runs.set(state, run);
    run.then(
      (stored) => this.options.logger.info({ domain: state.domain, modelId: state.model?.modelId, users: stored }, 'users precomputed'),
      (error: Error) => this.options.logger.warn({ domain: state.domain, error: error.message }, 'precomputing users failed; they are served as they come'),
    );
  }

  /** Whether a precomputation of the state was ever started. */
  started(state: DomainState): boolean {
    return this.runs.has(state);
  }

  /** The users stored by the state's precomputation (0 when none ran). */
  async done(state: DomainState): Promise<number> {
    return (await this.runs.get(state)) ?? 0;
  }

  /**
   * Reads the users in batches and stores each one's resolution and first ranking step
   * (exclude-seen, no filter, no diversity: a plain first page). Yields to requests every few
   * milliseconds; stops when the state is replaced or the cache forgets everyone.
   */
  private async precompute(state: DomainState): Promise<number> {
    const model = state.model!;
    const cache = this.options.cacheOf(state);
    const ticket = cache.beginPrecompute();
    const current = () => !ticket.cancelled && this.options.inService(state);
    let stored = 0;
    try {
      const ids = await readUsersToPrecompute(this.gdb.db, state.domainId, model.modelId, this.options.limit);
      let sliceStart = performance.now();
      for (let start = 0; start < ids.length && current(); start += PRECOMPUTE_BATCH) {
        const batch = await readServingUsers(this.gdb.db, ids.slice(start, start + PRECOMPUTE_BATCH), state.domainId, model.modelId, HISTORY_LIMIT);
        for (const found of batch) {
          if (!current()) break;
          const user = resolveFound(state, found.externalId, found, userVector(model, found.externalId, found.vector));
          const rankings: Array<[string, Ranking]> = [];
          if (user.query !== null) {
            const index = model.hnsw ?? model.exact;
            const exclusion = compileExclusion(state.catalogue, null, user.history);
            const exclude = exclusion ? (row: number) => exclusion(model.rowPosition[row]!) : undefined;
            const ranking = rankRows({ index, vectors: model.vectors, dim: model.dim, query: user.query, exclude, diversity: 0 }, RANKING_LADDER[0]!);
            rankings.push([`${index.kind}|${requestFingerprint(found.externalId, true, null, 0)}`, ranking]);
          }
          if (cache.storePrecomputed(ticket, found.externalId, user, rankings)) stored++;
          if (performance.now() - sliceStart > PRECOMPUTE_SLICE_MS) {
            await new Promise((resolve) => setImmediate(resolve));
            sliceStart = performance.now();
          }
        }
      }
    } finally {
      cache.endPrecompute(ticket);
    }
    return stored;
  }
}
