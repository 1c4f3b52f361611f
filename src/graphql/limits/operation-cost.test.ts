import { getOperationAST, parse, type GraphQLSchema } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGraftSchema } from '../schema.js';
import { measureOperation } from './operation-cost.js';

/** The document: fragment i spreads fragment i+1 twice; n fragments. */
export function doublingFragments(n: number): string {
  const defs: string[] = [];
  for (let i = 1; i < n; i++) defs.push(`fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
  defs.push(`fragment F${n} on Query { __typename }`);
  return `query { ...F1 } ${defs.join(' ')}`;
}

describe('measureOperation', () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await buildGraftSchema();
  });
  const measure = (query: string, variables?: Record<string, unknown>) => {
    const document = parse(query);
    return measureOperation(schema, document, getOperationAST(document)!, variables);
  };

  it('measures each fragment once: 200 fragments that each spread the next twice cost 2^199, counted without expanding them', () => {
    // Walking every spread would take 2^199 steps: this test would never end.
    const m = measure(doublingFragments(200));
    expect(m.cost).toBeCloseTo(2 ** 199, -190);
    expect(measure(doublingFragments(22)).cost).toBe(2 ** 21);
  });

  it('counts aliases as executed: an aliased field in a fragment spread twice counts twice', () => {
    const m = measure('query { ...A ...A } fragment A on Query { a: viewer { name } b: viewer { n: name } }');
    expect(m.aliases).toBe(6);
  });

  it("charges a field's declared resolution cost: recommendations(first: 1) is a ranking, not one row", () => {
    const one = measure('{ recommendations(userId: "u", domain: "d", first: 1) { edges { node { rank } } } }');
    expect(one.cost).toBe(20 + 1 * 3);
    const page = measure('{ recommendations(userId: "u", domain: "d", first: 50) { edges { node { rank } } } }');
    expect(page.cost).toBe(20 + 50 * 3);
  });

  it('takes page sizes from variables, variable defaults and argument defaults', () => {
    const q = 'query($n: Int = 7) { recommendations(userId: "u", domain: "d", first: $n) { edges { cursor } } }';
    expect(measure(q).cost).toBe(20 + 7 * 2);
    expect(measure(q, { n: 400 }).cost).toBe(20 + 400 * 2);
    // `first` left out: its default, 20.
    expect(measure('{ recommendations(userId: "u", domain: "d") { edges { cursor } } }').cost).toBe(20 + 20 * 2);
  });

  it('charges a projection by its sample and recordEvents by its events', () => {
    const projection = (sample: number) => measure(`{ embeddingProjection(modelId: "m", kind: ITEM, sample: ${sample}) { points { id } } }`).cost;
    expect(projection(20_000)).toBeGreaterThan(projection(2_000) * 9);
    const events = (n: number) =>
      measure('mutation($e: [EventInput!]!) { recordEvents(events: $e) { recorded } }', { e: Array.from({ length: n }, () => ({})) }).cost;
    expect(events(1000)).toBeGreaterThan(events(10) * 50);
  });

  it('measures depth through fragments and inline fragments; introspection costs 1 a field and adds no depth', () => {
    expect(measure('{ ...D } fragment D on Query { domains { activeModel { ... on Model { parent { id } } } } }').depth).toBe(4);
    const introspection = measure('{ __schema { types { name fields { name type { ofType { ofType { ofType { name } } } } } } } }');
    expect(introspection.depth).toBe(0);
    expect(introspection.cost).toBe(10);
  });
});
