import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import pino from 'pino';
import { createApiKey } from '../../src/auth/index.js';
import { runDemo } from '../../src/cli/demo.js';
import { activateModel } from '../../src/registry/activation.js';
import { startGraftServer, type GraftServer } from '../../src/graphql/server/http-server.js';
import type { StorageKind } from '../../src/db/connect.js';
import { freshDatabase, type TestDatabase } from '../support/databases.js';

/** Counts the SQL statements resolvers send (the DataLoader tests read it). */
export class QueryCounter implements KyselyPlugin {
  count = 0;
  readonly statements: string[] = [];
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.count++;
    this.statements.push(args.node.kind);
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
  reset(): void {
    this.count = 0;
    this.statements.length = 0;
  }
}

export interface ServerFixture {
  db: TestDatabase;
  server: GraftServer;
  counter: QueryCounter;
  keys: { admin: string; analyst: string; app: string };
  sourceModelId: string;
  targetModelId: string;
  close(): Promise<void>;
}

/** A fresh database with the demo (small: 300 users, 2 epochs), its models active, keys of every role, and a server on a free port. */
export async function startFixture(kind: StorageKind): Promise<ServerFixture> {
  const db = await freshDatabase(kind);
  const demo = await runDemo(db, { users: 300, epochs: 2, quiet: true });
  // At this size the transfer beats its baseline but not popularity, so the demo's guard leaves
  // it inactive (the full-size demo activates it); the API tests need an active target model.
  if (!demo.activated) await activateModel(db.db, demo.targetModelId, { force: true });
  const analyst = (await createApiKey(db.db, { name: 'analyst', role: 'ANALYST' })).key;
  const app = (await createApiKey(db.db, { name: 'app', role: 'APP' })).key;
  const counter = new QueryCounter();
  const server = await startGraftServer({
    gdb: db,
    port: 0,
    host: '127.0.0.1',
    logger: pino({ level: 'silent' }),
    requestDb: db.db.withPlugin(counter),
    development: false,
    // As the demo (`graft start`) serves: GraphiQL and introspection on; /metrics with a key.
    graphiql: true,
  });
  return {
    db,
    server,
    counter,
    keys: { admin: demo.adminKey, analyst, app },
    sourceModelId: demo.sourceModelId,
    targetModelId: demo.targetModelId,
    close: async () => {
      await server.close();
      await db.dispose();
    },
  };
}

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; extensions?: { code?: string; [k: string]: unknown }; path?: Array<string | number> }>;
}

/** POSTs one operation to the fixture's server. */
export async function gql<T = Record<string, any>>(
  fixture: { server: GraftServer },
  query: string,
  options: { variables?: Record<string, unknown>; key?: string | null; operationName?: string } = {},
): Promise<GraphQLResponse<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  const res = await fetch(fixture.server.url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables: options.variables, operationName: options.operationName }),
  });
  const body = (await res.json()) as Omit<GraphQLResponse<T>, 'status'>;
  return { status: res.status, ...body };
}

/** GET /metrics with an ANALYST key (the production default needs one). */
export async function readMetrics(fixture: ServerFixture): Promise<string> {
  const res = await fetch(fixture.server.url.replace('/graphql', '/metrics'), { headers: { authorization: `Bearer ${fixture.keys.analyst}` } });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${await res.text()}`);
  return res.text();
}

/** The codes of a response's errors. */
export function codes(response: GraphQLResponse): string[] {
  return (response.errors ?? []).map((e) => String(e.extensions?.code));
}
