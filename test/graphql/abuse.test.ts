import { GraphQLObjectType, type GraphQLSchema } from 'graphql';
import { createClient } from 'graphql-ws';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { GraphqlContext } from '../../src/graphql/context.js';
import { buildGraftSchema } from '../../src/graphql/schema.js';
import { startGraftServer, type GraftServer } from '../../src/graphql/server/http-server.js';
import { STORAGE_KINDS } from '../support/databases.js';
import { codes, gql, startFixture, type GraphQLResponse, type ServerFixture } from './server-fixture.js';

/**
 * What a hostile but fair tester did to the API (issue 19), one case each, so none of it comes
 * back: exponential fragments, the WebSocket path without limits, requests whose cost ignored
 * what fields cost to resolve, clients' mistakes reported as server faults, and what APP keys
 * and callers without a key could see. Each case asserts the refusal and its code, never a time.
 */

/** The document: fragment i spreads fragment i+1 twice. */
function doublingFragments(n: number): string {
  const defs: string[] = [];
  for (let i = 1; i < n; i++) defs.push(`fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
  defs.push(`fragment F${n} on Query { __typename }`);
  return `query { ...F1 } ${defs.join(' ')}`;
}

function aliases(n: number, field: string): string {
  return `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;
}

const RECORD = 'mutation($events: [EventInput!]!) { recordEvents(events: $events) { recorded } }';

interface WsOutcome {
  /** The last result of a query or mutation. */
  result?: GraphQLResponse;
  /** Errors the server refused the operation with (before running it). */
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
  /** The socket was closed on the client: code and reason. */
  closed?: { code: number; reason: string };
}

/** One operation over graphql-ws (a fresh connection each time). */
async function overWebSocket(server: GraftServer, query: string, options: { key?: string | null; variables?: Record<string, unknown> } = {}): Promise<WsOutcome> {
  let closed: WsOutcome['closed'];
  const client = createClient({
    url: server.url.replace('http', 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: options.key ? { authorization: `Bearer ${options.key}` } : {},
    retryAttempts: 0,
    on: { closed: (event) => (closed ??= { code: (event as { code: number }).code, reason: (event as { reason: string }).reason }) },
  });
  try {
    return await new Promise<WsOutcome>((resolve) => {
      let result: GraphQLResponse | undefined;
      client.subscribe(
        { query, variables: options.variables },
        {
          next: (r) => (result = { status: 0, ...(r as Omit<GraphQLResponse, 'status'>) }),
          error: (e) => resolve(Array.isArray(e) ? { errors: e } : { closed: closed ?? { code: (e as { code: number }).code, reason: (e as { reason: string }).reason } }),
          complete: () => resolve({ result }),
        },
      );
    });
  } finally {
    await client.dispose();
  }
}

const wsCodes = (o: WsOutcome): string[] => (o.errors ?? o.result?.errors ?? []).map((e) => String(e.extensions?.code));

for (const kind of STORAGE_KINDS) {
  describe(`abuse [${kind}]`, () => {
    let fx: ServerFixture;
    /** A second server on the same data: a captured log, an ANALYST deadline of 300 ms, and a `viewer` that only ends when cancelled. */
    let probe: GraftServer;
    const logs: Array<{ level: number; msg: string; err?: { stack?: string } }> = [];
    const cancelled: string[] = [];
    let userId: string;
    let itemId: string;

    beforeAll(async () => {
      fx = await startFixture(kind);
      const schema: GraphQLSchema = await buildGraftSchema();
      const viewer = (schema.getQueryType() as GraphQLObjectType).getFields().viewer!;
      // Stands in for any resolver that runs long: it returns only when the operation is cancelled.
      viewer.resolve = (_root, _args, ctx: GraphqlContext) =>
        new Promise((resolve) => ctx.deadline.signal.addEventListener('abort', () => resolve(cancelled.push(ctx.requestId) && null)));
      probe = await startGraftServer({
        gdb: fx.db,
        port: 0,
        host: '127.0.0.1',
        schema,
        runJobs: false,
        preload: false,
        development: false,
        limits: { ANALYST: { deadlineMs: 300 } },
        logger: pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) }),
      });
      const row = await fx.db.db
        .selectFrom('events')
        .innerJoin('domains', 'domains.id', 'events.domain_id')
        .innerJoin('users', 'users.id', 'events.user_id')
        .innerJoin('items', 'items.id', 'events.item_id')
        .select(['users.external_id as user', 'items.external_id as item'])
        .where('domains.name', '=', 'target')
        .orderBy('users.external_id')
        .limit(1)
        .executeTakeFirstOrThrow();
      userId = row.user;
      itemId = row.item;
    }, 240_000);
    afterAll(async () => {
      await probe?.close();
      await fx?.close();
    });

    describe('1. exponential fragments', () => {
      it("refuses the issue's 22 doubly-spread fragments from a caller without a key, by estimated cost, and keeps serving", async () => {
        const res = await gql(fx, doublingFragments(22));
        expect(res.status).toBe(400);
        expect(codes(res)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
        expect(res.errors![0]!.message).toMatch(/estimated cost of 2097152; the limit for callers without an API key is 1000/);
        // Still serving: the next request is answered.
        expect((await gql(fx, '{ __typename }')).data).toEqual({ __typename: 'Query' });
      });

      it('refuses 60 of them (2^59 fields expanded) just the same: each fragment is measured once', async () => {
        // Walking every spread, as the check did, would never end.
        const res = await gql(fx, doublingFragments(60), { key: fx.keys.admin });
        expect(codes(res)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
        expect(res.errors![0]!.message).toMatch(/estimated cost of 5\.76e\+17/);
      });
    });

    describe('2. the WebSocket path has the HTTP limits', () => {
      it('refuses a depth-15 query and a query over the cost limit from an APP key, as HTTP does', async () => {
        const nested = 'parent { '.repeat(12) + 'id' + ' }'.repeat(12);
        const deep = await overWebSocket(fx.server, `{ domains { activeModel { ${nested} } } }`, { key: fx.keys.app });
        expect(wsCodes(deep)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
        expect(deep.errors![0]!.message).toMatch(/nested 15 levels deep; the limit for APP keys is 12/);
        const page = 'recommendations(userId: "u1", domain: "target", first: 500) { edges { node { item { id title tags } reason { becauseOf { id title tags domain } } } } }';
        const costly = await overWebSocket(fx.server, `{ a: ${page} b: ${page} }`, { key: fx.keys.app });
        expect(wsCodes(costly)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
        expect(costly.errors![0]!.message).toMatch(/estimated cost of \d+; the limit for APP keys is 20000/);
      });

      it('refuses a document over the anonymous size limit before parsing it, and closes on a message over 2 MiB', async () => {
        const big = await overWebSocket(fx.server, aliases(2_000, '__typename'));
        expect(wsCodes(big)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
        expect(big.errors![0]!.message).toMatch(/the query document is \d+ bytes; the limit for callers without an API key is 8192/);
        // The 7.1 MB document of 400,000 aliases: ws refuses the message itself.
        const huge = await overWebSocket(fx.server, aliases(400_000, '__typename'));
        expect(huge.closed?.code).toBe(1009);
      });

      it('refuses a revoked or malformed key by closing with 4401 and the reason, as HTTP answers 401', async () => {
        const malformed = await overWebSocket(fx.server, '{ viewer { name } }', { key: 'nope' });
        expect(malformed.closed?.code).toBe(4401);
        expect(malformed.closed?.reason).toMatch(/^Unauthorized: the API key is malformed/);
        const created = await gql(fx, 'mutation { createApiKey(name: "ws-revoked", role: APP) { key apiKey { id } } }', { key: fx.keys.admin });
        await gql(fx, `mutation { revokeApiKey(id: "${created.data!.createApiKey.apiKey.id}") { id } }`, { key: fx.keys.admin });
        fx.server.authenticator.forget();
        const revoked = await overWebSocket(fx.server, '{ viewer { name } }', { key: created.data!.createApiKey.key });
        expect(revoked.closed?.code).toBe(4401);
        expect(revoked.closed?.reason).toMatch(/was revoked/);
      });

      it('answers library errors with their codes and bad variables with BAD_USER_INPUT (graphql-js executor)', async () => {
        const missing = await overWebSocket(fx.server, '{ similarItems(itemId: "nope", domain: "target", first: 5) { items { rank } } }', { key: fx.keys.app });
        expect(wsCodes(missing)).toEqual(['NOT_FOUND']);
        const bad = await overWebSocket(fx.server, 'query($n: Int) { recommendations(userId: "u1", domain: "target", first: $n) { tier } }', {
          key: fx.keys.app,
          variables: { n: 'abc' },
        });
        expect(wsCodes(bad)).toEqual(['BAD_USER_INPUT']);
        expect(JSON.stringify(bad)).toMatch(/\$n/);
        const ok = await overWebSocket(fx.server, '{ viewer { role } }', { key: fx.keys.app });
        expect(ok.result?.data).toEqual({ viewer: { role: 'APP' } });
      });
    });

    describe('3. a cost model that knows what fields cost', () => {
      it("refuses the issue's 9,999 aliases of recommendations(first: 1) and 9,000 aliases of viewer { name } from an APP key", async () => {
        const recs = await gql(fx, aliases(9_999, 'recommendations(userId: "u1", domain: "target", first: 1) { edges { node { rank } } }'), { key: fx.keys.app });
        expect(recs.status).toBe(400);
        expect(codes(recs)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
        const viewers = await gql(fx, aliases(9_000, 'viewer { name }'), { key: fx.keys.app });
        expect(codes(viewers)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      });

      it('counts aliases through fragments, and charges recommendations by their page: each limit on its own', async () => {
        // 51 aliases in a small document: the alias limit.
        const many = await gql(fx, `{ ...V ...V } fragment V on Query { ${Array.from({ length: 26 }, (_, i) => `v${i}: viewer { name }`).join(' ')} }`, { key: fx.keys.app });
        expect(codes(many)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
        expect(many.errors![0]!.message).toMatch(/has 52 aliased fields; the limit for APP keys is 50/);
        // 40 aliases of a 100-item page: under the alias limit, over the cost limit.
        const pages = await gql(fx, aliases(40, 'recommendations(userId: "u1", domain: "target", first: 100) { edges { node { item { id title } } } }'), { key: fx.keys.app });
        expect(codes(pages)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
        expect(pages.errors![0]!.message).toMatch(/estimated cost of \d+; the limit for APP keys is 20000/);
        // A page size from a variable counts like a literal one.
        const variable = await gql(fx, `query($n: Int) ${aliases(40, 'recommendations(userId: "u1", domain: "target", first: $n) { edges { node { item { id title } } } }')}`, {
          key: fx.keys.app,
          variables: { n: 100 },
        });
        expect(codes(variable)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
        // The same with small pages runs.
        const small = await gql(fx, aliases(10, `recommendations(userId: "${userId}", domain: "target", first: 5) { edges { node { item { id } } } }`), { key: fx.keys.app });
        expect(small.errors).toBeUndefined();
        expect(small.data!.a9.edges).toHaveLength(5);
      });

      it('refuses batched requests: one operation per request, so limits cannot be summed past', async () => {
        const res = await fetch(fx.server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${fx.keys.app}` },
          body: JSON.stringify([{ query: '{ viewer { name } }' }, { query: '{ viewer { name } }' }]),
        });
        expect(res.status).toBe(400);
        expect(await res.text()).toMatch(/batching disabled/);
      });

      it('cancels an operation past its deadline and tells the client (HTTP: graphql-jit, WebSocket: graphql-js)', async () => {
        const before = cancelled.length;
        const http = await gql({ server: probe }, '{ viewer { name } }', { key: fx.keys.analyst });
        expect(http.status).toBe(503);
        expect(codes(http)).toEqual(['TIMEOUT']);
        expect(http.errors![0]!.message).toMatch(/time budget of 300 ms for ANALYST keys and was cancelled/);
        const ws = await overWebSocket(probe, '{ viewer { name } }', { key: fx.keys.analyst });
        expect(wsCodes(ws)).toEqual(['TIMEOUT']);
        // The resolvers saw the cancellation (their signal aborted): no work is left running.
        expect(cancelled.length - before).toBe(2);
      });
    });

    describe("4. a client's mistake is the client's fault", () => {
      const RECS = 'query($first: Int, $domain: String!, $diversity: Float) { recommendations(userId: "u1", domain: $domain, first: $first, diversity: $diversity) { tier } }';
      it.each([
        ['an Int given "abc"', RECS, { first: 'abc', domain: 'target' }, /\$first/],
        ['an Int given 1.5', RECS, { first: 1.5, domain: 'target' }, /\$first/],
        ['a required variable given null', RECS, { domain: null }, /\$domain/],
        ['a required variable left out', RECS, {}, /\$domain/],
        ['an unknown enum value', 'query($k: EntityKind!) { embedding(modelId: "m", kind: $k, id: "x") { norm } }', { k: 'PLANET' }, /\$k/],
        ['an input object without a required field', RECORD, { events: [{ userId: 'u1', domain: 'target', kind: 'VIEW' }] }, /\$events.*itemId/],
        ['a DateTimeISO in year 99999', RECORD, { events: [{ userId: 'u1', domain: 'target', itemId: 'x', kind: 'VIEW', occurredAt: '99999-01-01T00:00:00Z' }] }, /\$events.*occurredAt/],
      ])('%s: HTTP 400, BAD_USER_INPUT naming the variable, nothing logged as a failure', async (_name, query, variables, pattern) => {
        const logged = logs.length;
        const res = await gql({ server: probe }, query, { key: fx.keys.admin, variables });
        expect(res.status).toBe(400);
        expect(codes(res)).toEqual(['BAD_USER_INPUT']);
        expect(res.errors![0]!.message).toMatch(pattern);
        expect(logs.slice(logged).filter((l) => l.level >= 50)).toEqual([]);
      });

      const NUL = 'a\u0000b';
      it.each([
        ['recommendations', 'query($v: ID!) { recommendations(userId: $v, domain: "target") { tier } }', 'APP'],
        ['recommendations (domain)', 'query($v: String!) { recommendations(userId: "u1", domain: $v) { tier } }', 'APP'],
        ['similarItems', 'query($v: ID!) { similarItems(itemId: $v, domain: "target") { modelId } }', 'APP'],
        ['item', 'query($v: ID!) { item(domain: "target", id: $v) { id } }', 'APP'],
        ['items', 'query($v: ID!) { items(domain: "target", ids: [$v]) { id } }', 'APP'],
        ['user', 'query($v: ID!) { user(id: $v) { id } }', 'APP'],
        ['user history (domain)', 'query($v: String!) { user(id: "u1") { history(domain: $v) { kind } } }', 'APP'],
        ['models', 'query($v: String) { models(domain: $v) { id } }', 'ANALYST'],
        ['embedding', 'query($v: ID!) { embedding(modelId: $v, kind: USER, id: "u1") { norm } }', 'ANALYST'],
        ['createApiKey', 'mutation($v: String!) { createApiKey(name: $v, role: APP) { key } }', 'ADMIN'],
        ['revokeApiKey', 'mutation($v: ID!) { revokeApiKey(id: $v) { id } }', 'ADMIN'],
        ['rollbackModel', 'mutation($v: String!) { rollbackModel(domain: $v) { model { id } } }', 'ADMIN'],
      ])('a NUL character given to %s is BAD_USER_INPUT naming the variable, before Postgres sees it', async (_name, query, role) => {
        const key = role === 'APP' ? fx.keys.app : role === 'ANALYST' ? fx.keys.analyst : fx.keys.admin;
        const logged = logs.length;
        const res = await gql({ server: probe }, query, { key, variables: { v: NUL } });
        expect(res.status).toBe(400);
        expect(codes(res)).toEqual(['BAD_USER_INPUT']);
        expect(res.errors![0]!.message).toMatch(/variable "\$v" contains a NUL character/);
        // Inline, the same.
        const inline = await gql({ server: probe }, query.replace(/^(query|mutation)\(\$v: [^)]*\)/, '$1').replace('$v', JSON.stringify(NUL)), { key });
        expect(codes(inline)).toEqual(['BAD_USER_INPUT']);
        expect(inline.errors![0]!.message).toMatch(/argument "\w+"( at \[0\])? contains a NUL character/);
        expect(logs.slice(logged).filter((l) => l.level >= 50)).toEqual([]);
      });

      it('a NUL inside recordEvents names the event and field; nothing is written', async () => {
        const res = await gql({ server: probe }, RECORD, { key: fx.keys.app, variables: { events: [{ userId, domain: 'target', itemId, kind: 'VIEW' }, { userId: NUL, domain: 'target', itemId, kind: 'VIEW' }] } });
        expect(codes(res)).toEqual(['BAD_USER_INPUT']);
        expect(res.errors![0]!.message).toMatch(/variable "\$events" at \[1\]\.userId contains a NUL character/);
      });

      it('recordEvents weight 1e308 and revokeApiKey(id: "99999999999999999999") are BAD_USER_INPUT naming the value', async () => {
        const logged = logs.length;
        const weight = await gql({ server: probe }, RECORD, { key: fx.keys.app, variables: { events: [{ userId, domain: 'target', itemId, kind: 'VIEW', weight: 1e308 }] } });
        expect(codes(weight)).toEqual(['BAD_USER_INPUT']);
        expect(JSON.stringify(weight.errors)).toMatch(/weight/);
        const revoke = await gql({ server: probe }, 'mutation { revokeApiKey(id: "99999999999999999999") { id } }', { key: fx.keys.admin });
        expect(codes(revoke)).toEqual(['BAD_USER_INPUT']);
        expect(revoke.errors![0]!.message).toMatch(/"99999999999999999999" is out of range/);
        expect(logs.slice(logged).filter((l) => l.level >= 50)).toEqual([]);
      });
    });

    describe('6. what keys and callers without one can see', () => {
      it('an APP key cannot read model metrics, config or the transfer report through domains { activeModel }; ANALYST can', async () => {
        const query = '{ domains { name activeModel { id metrics config transferReport } } }';
        const app = await gql(fx, query, { key: fx.keys.app });
        expect(codes(app)).toContain('FORBIDDEN');
        expect(app.errors![0]!.message).toMatch(/"activeModel" needs role ANALYST or above; key "app" has role APP/);
        expect(JSON.stringify(app.data)).not.toMatch(/hr@10/);
        const analyst = await gql(fx, query, { key: fx.keys.analyst });
        expect(analyst.errors).toBeUndefined();
        expect(JSON.stringify(analyst.data)).toMatch(/hr@10/);
      });

      it('by default (production) introspection and GraphiQL are off and /metrics needs an ANALYST or ADMIN key', async () => {
        // `probe` runs on the defaults; the fixture server turns GraphiQL on, as the demo does.
        const introspection = await gql({ server: probe }, '{ __schema { queryType { name } } }', { key: fx.keys.admin });
        expect(codes(introspection)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
        expect((await fetch(probe.url, { headers: { accept: 'text/html' } })).status).toBe(404);
        const metrics = (key?: string) => fetch(probe.url.replace('/graphql', '/metrics'), { headers: key ? { authorization: `Bearer ${key}` } : {} });
        expect((await metrics()).status).toBe(401);
        expect((await metrics(fx.keys.app)).status).toBe(403);
        const analyst = await metrics(fx.keys.analyst);
        expect(analyst.status).toBe(200);
        expect(await analyst.text()).toMatch(/graft_graphql_requests_total/);
        const shown = await gql(fx, '{ __schema { queryType { name } } }');
        expect(shown.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
      });
    });
  });
}
