import { Kind, parse, type FieldNode, type FragmentDefinitionNode, type GraphQLResolveInfo, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { selects } from './selects.js';

/** The resolve info of the operation's first root field, as far as `selects` reads it. */
function infoOf(query: string): GraphQLResolveInfo {
  const document = parse(query);
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const fragments = Object.fromEntries(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
  );
  return { fieldNodes: [operation.selectionSet.selections[0] as FieldNode], fragments } as unknown as GraphQLResolveInfo;
}

const PATH = ['edges', 'node', 'reason', 'becauseOf'];

describe('selects', () => {
  it('finds a nested field directly, under aliases, in inline fragments and in fragment spreads', () => {
    expect(selects(infoOf('{ r { edges { node { reason { becauseOf { id } } } } } }'), PATH)).toBe(true);
    expect(selects(infoOf('{ r { e: edges { n: node { reason { why: becauseOf { id } } } } } }'), PATH)).toBe(true);
    expect(selects(infoOf('{ r { edges { node { ... on Recommendation { reason { becauseOf { id } } } } } } }'), PATH)).toBe(true);
    expect(selects(infoOf('{ r { edges { ...E } } } fragment E on Edge { node { reason { ...R } } } fragment R on Reason { becauseOf { id } }'), PATH)).toBe(true);
  });

  it('is false when only siblings or a same-named field elsewhere are selected', () => {
    expect(selects(infoOf('{ r { edges { node { rank reason { tier } } } } }'), PATH)).toBe(false);
    expect(selects(infoOf('{ r { edges { becauseOf { id } node { reason { tier } } } } }'), PATH)).toBe(false);
    expect(selects(infoOf('{ r { modelVersion } }'), PATH)).toBe(false);
    expect(selects(infoOf('{ r }'), PATH)).toBe(false);
  });
});
