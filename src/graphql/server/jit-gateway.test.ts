import { GraphQLEnumType, GraphQLError, GraphQLFloat, GraphQLInputObjectType, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString, parse, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { Deadline } from '../limits/deadline.js';
import { jitGateway } from './jit-gateway.js';

// A schema whose input has the defaults graphql-jit leaves out: a Float and an enum whose internal value differs from its name.
const Kind = new GraphQLEnumType({ name: 'Kind', values: { VIEW: { value: 'view' }, BUY: { value: 'buy' } } });
const EventInput = new GraphQLInputObjectType({
  name: 'EventInput',
  fields: { item: { type: new GraphQLNonNull(GraphQLString) }, weight: { type: new GraphQLNonNull(GraphQLFloat), defaultValue: 1 }, kind: { type: Kind, defaultValue: 'view' } },
});
const failure = Object.assign(new Error('item "x" is unknown'), { code: 'NOT_FOUND' });
const schema = new GraphQLSchema({
  query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString, resolve: () => 'yes' } } }),
  mutation: new GraphQLObjectType({
    name: 'Mutation',
    fields: {
      record: {
        type: GraphQLString,
        args: { events: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(EventInput))) } },
        resolve: (_, args: { events: Array<{ item: string; weight: number; kind: string }> }) => JSON.stringify(args.events),
      },
      fail: { type: GraphQLString, resolve: () => Promise.reject(failure) },
      // Ends only when the operation is cancelled.
      hang: { type: GraphQLString, resolve: (_, __, ctx: { deadline: Deadline }) => new Promise((resolve) => ctx.deadline.signal.addEventListener('abort', () => resolve('aborted'))) },
    },
  }),
});

async function run(query: string, variables: Record<string, unknown> = {}, deadline = new Deadline(60_000, 'tests')) {
  const { executor } = await jitGateway(schema).load({ apollo: {} });
  const document = parse(query);
  const operation = document.definitions[0] as OperationDefinitionNode;
  return executor!({ document, operation, operationName: null, queryHash: query, context: { deadline }, request: { query, variables } } as never);
}

describe('jitGateway', () => {
  it('fills input-field defaults of variables as graphql-js does, enums in their internal form', async () => {
    const result = await run('mutation($e: [EventInput!]!) { record(events: $e) }', { e: [{ item: 'a' }, { item: 'b', weight: 3, kind: 'BUY' }] });
    expect(result.errors).toBeUndefined();
    expect(JSON.parse(result.data!.record)).toEqual([
      { item: 'a', weight: 1, kind: 'view' },
      { item: 'b', weight: 3, kind: 'buy' },
    ]);
  });

  it("returns graphql-js GraphQLErrors carrying the resolver's error, path and location", async () => {
    const result = await run('mutation { fail }');
    expect(result.data).toEqual({ fail: null });
    const error = result.errors![0]!;
    expect(error).toBeInstanceOf(GraphQLError);
    expect(error.originalError).toBe(failure);
    expect(error.path).toEqual(['fail']);
    expect(error.locations).toEqual([{ line: 1, column: 12 }]);
  });

  it("answers bad variables with graphql-js's BAD_USER_INPUT errors naming the variable, without running anything", async () => {
    const result = await run('mutation($e: [EventInput!]!) { record(events: $e) }', { e: [{ weight: 2 }] });
    expect(result.data).toBeUndefined();
    expect(result.errors![0]!.message).toMatch(/Variable "\$e" got invalid value .* Field "item" of required type "String!" was not provided/);
    expect(result.errors![0]!.extensions.code).toBe('BAD_USER_INPUT');
    const notInt = await run('mutation($e: [EventInput!]!) { record(events: $e) }', { e: [{ item: 'a', weight: 'abc' }] });
    expect(notInt.errors![0]!.extensions.code).toBe('BAD_USER_INPUT');
  });

  it('answers TIMEOUT past the deadline and aborts its signal, so the resolver stops', async () => {
    const deadline = new Deadline(20, 'tests');
    const result = await run('mutation { hang }', {}, deadline);
    expect(result.errors![0]!.extensions.code).toBe('TIMEOUT');
    expect(result.errors![0]!.message).toMatch(/time budget of 20 ms for tests/);
    expect(deadline.signal.aborted).toBe(true);
    expect(() => deadline.check()).toThrow(/time budget/);
  });

  it('runs queries, and the same compiled operation again', async () => {
    expect((await run('{ ok }')).data).toEqual({ ok: 'yes' });
    expect((await run('{ ok }')).data).toEqual({ ok: 'yes' });
  });
});
