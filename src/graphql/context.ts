import type { Logger } from 'pino';
import type { GraftDatabase } from '../db/connect.js';
import type { Db } from '../db/database.js';
import type { Role } from '../auth/roles.js';
import type { Recommender } from '../serving/index.js';
import { createLoaders, type Loaders } from './loaders.js';

/** Long-lived parts every request shares (one set per server process). */
export interface GraftServices {
  gdb: GraftDatabase;
  recommender: Recommender;
  logger: Logger;
  /** Extra services added by later adapters (jobs runner, explorer caches) register here. */
  extensions: Record<string, unknown>;
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
}

export function createContext(services: GraftServices, principal: Principal | null, requestId: string, db: Db = services.gdb.db): GraphqlContext {
  return { services, db, principal, loaders: createLoaders(db), requestId };
}
