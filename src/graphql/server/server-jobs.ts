import type { Logger } from 'pino';
import type { GraftDatabase } from '../../db/connect.js';
import { startInProcessRunner, type InProcessRunner } from '../../jobs/index.js';
import type { Recommender } from '../../serving/index.js';

/**
 * What a server runs beside its requests: queued jobs in-process (default on PGlite, where one
 * process owns the data folder; on Postgres `graft worker` processes run them), and the
 * activation watcher with a background load of every domain's active model.
 */
export function startServerJobs(
  gdb: GraftDatabase,
  recommender: Recommender,
  logger: Logger,
  options: { runJobs?: boolean; preload?: boolean },
): { stop(): Promise<void> } {
  let runner: InProcessRunner | undefined;
  if (options.runJobs ?? gdb.kind === 'pglite') {
    runner = startInProcessRunner(gdb, { log: (message) => logger.info({ runner: 'in-process' }, message) });
  }
  if (options.preload !== false) {
    recommender.watchActivations().catch((error: unknown) => logger.error({ err: error }, 'activation watcher failed'));
    preloadActiveDomains(gdb, recommender, logger);
  }
  return { stop: async () => runner?.stop() };
}

/** Loads each domain's active model in the background so the first requests do not pay for it. */
function preloadActiveDomains(gdb: GraftDatabase, recommender: Recommender, logger: Logger): void {
  void (async () => {
    const domains = await gdb.db.selectFrom('domains').select('name').where('active_model_id', 'is not', null).execute();
    for (const d of domains) {
      try {
        const state = await recommender.ensureLoaded(d.name);
        logger.info({ domain: d.name, modelVersion: state.modelVersion, items: state.items, index: state.indexKind }, 'serving model loaded');
      } catch (error) {
        logger.error({ err: error, domain: d.name }, 'could not load the active model');
      }
    }
  })();
}
