import type { Logger } from 'pino';
import type { GraftDatabase } from '../db/connect.js';
import type { Db } from '../db/database.js';
import type { Role } from '../auth/roles.js';
import type { Recommender } from '../serving/index.js';
import { Deadline } from './limits/deadline.js';
import { DEFAULT_OPERATION_LIMITS, type Caller, type LimitsByCaller } from './limits/operation-limits.js';
import { createLoaders, type Loaders } from './loaders.js';

/** Long-lived parts every request shares (one set per server process). */
export interface GraftServices {
  gdb: GraftDatabase;
  recommender: Recommender;
  logger: Logger;
  /** Extra services added by later adapters (jobs runner, explorer caches) register here. */
  extensions: Record<string, unknown>;
  /** Operation limits per caller (default DEFAULT_OPERATION_LIMITS). */
  limits?: LimitsByCaller;
}

/** Who is calling: the API key behind `Authorization: Bearer KEY`, or null. */
export interface Principal {
  keyId: number;
  name: string;
  role: Role;
}

/**
 * Per-request context: fresh DataLoaders for each request (so caching never leaks
 * between callers), the caller, and the shared services.
 */
export interface GraphqlContext {
  services: GraftServices;
  db: Db;
  principal: Principal | null;
  loaders: Loaders;
  requestId: string;
  /** The operation's time budget: resolvers call `deadline.check()` before costly work and pass `deadline.signal` on. */
  deadline: Deadline;
}

/** The limit set a principal gets: its role's, or the anonymous one. */
export function callerOf(principal: Principal | null): Caller {
  return principal?.role ?? 'ANONYMOUS';
}

export function createContext(services: GraftServices, principal: Principal | null, requestId: string, db: Db = services.gdb.db): GraphqlContext {
  const caller = callerOf(principal);
  const limits = (services.limits ?? DEFAULT_OPERATION_LIMITS)[caller];
  const deadline = new Deadline(limits.deadlineMs, caller === 'ANONYMOUS' ? 'callers without an API key' : `${caller} keys`);
  return { services, db, principal, loaders: createLoaders(db), requestId, deadline };
}
