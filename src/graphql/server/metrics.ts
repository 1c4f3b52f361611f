import type { ApolloServerPlugin } from '@apollo/server';
import { Kind } from 'graphql';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Recommender } from '../../serving/index.js';
import type { GraphqlContext } from '../context.js';

/** Prometheus metrics of one server process (`GET /metrics`). */
export interface ServerMetrics {
  registry: Registry;
  plugin: ApolloServerPlugin<GraphqlContext>;
}

/**
 * Requests and latency per operation, errors by code, the active model version and index
 * size per domain. The operation label is the root field(s) asked for (e.g.
 * `recommendations`), not the client-chosen operation name, so its cardinality is bounded
 * by the schema.
 */
export function createServerMetrics(recommender: Recommender): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'graft_' });
  const requests = new Counter({
    name: 'graft_graphql_requests_total',
    help: 'GraphQL operations by root field and outcome',
    labelNames: ['operation', 'outcome'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'graft_graphql_request_duration_seconds',
    help: 'GraphQL operation latency by root field',
    labelNames: ['operation'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'graft_graphql_errors_total',
    help: 'GraphQL errors by extensions.code',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'graft_active_model_version',
    help: 'Version of the model loaded for serving, per domain (0: popularity fallback)',
    labelNames: ['domain'] as const,
    aggregator: 'max', // under --workers N, not the sum of the workers' versions
    registers: [registry],
    collect() {
      this.reset();
      for (const d of recommender.loaded()) this.set({ domain: d.domain }, d.modelVersion ?? 0);
    },
  });
  new Gauge({
    name: 'graft_index_items',
    help: 'Items in the serving index, per domain and index kind',
    labelNames: ['domain', 'kind'] as const,
    aggregator: 'max', // every worker holds the same index
    registers: [registry],
    collect() {
      this.reset();
      for (const d of recommender.loaded()) this.set({ domain: d.domain, kind: d.indexKind }, d.items);
    },
  });
  new Gauge({
    name: 'graft_serving_precomputed_users',
    help: 'Users held precomputed (history, query and first ranking) per domain; see graft serve --precompute-users',
    labelNames: ['domain'] as const,
    aggregator: 'min', // under --workers N: the worker with the fewest so far
    registers: [registry],
    collect() {
      this.reset();
      for (const d of recommender.loaded()) this.set({ domain: d.domain }, d.precomputedUsers);
    },
  });

  new Counter({
    name: 'graft_serving_cache_lookups_total',
    help: "Recommendation requests by what the serving cache held: 'hit' (user and ranking), 'user' (user only: the index was searched), 'miss' (the database was read)",
    labelNames: ['result'] as const,
    registers: [registry],
    collect() {
      const stats = recommender.cacheStats();
      this.reset();
      this.inc({ result: 'hit' }, stats.hits);
      this.inc({ result: 'user' }, stats.userHits);
      this.inc({ result: 'miss' }, stats.misses);
    },
  });

  const plugin: ApolloServerPlugin<GraphqlContext> = {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse(rc) {
          const operation = rootFields(rc.operation);
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          const failed = (rc.errors?.length ?? 0) > 0 || (rc.response.body.kind === 'single' && (rc.response.body.singleResult.errors?.length ?? 0) > 0);
          requests.inc({ operation, outcome: failed ? 'error' : 'ok' });
          latency.observe({ operation }, seconds);
          const list = rc.errors ?? (rc.response.body.kind === 'single' ? rc.response.body.singleResult.errors : undefined) ?? [];
          for (const e of list) errors.inc({ code: String(e.extensions?.code ?? 'INTERNAL_SERVER_ERROR') });
        },
      };
    },
  };
  return { registry, plugin };
}

function rootFields(operation: { selectionSet: { selections: readonly { kind: Kind; name?: { value: string } }[] } } | undefined): string {
  if (!operation) return 'unparsed';
  const names = operation.selectionSet.selections.filter((s) => s.kind === Kind.FIELD).map((s) => s.name!.value);
  return names.length ? [...new Set(names)].sort().join(',') : 'fragments';
}
