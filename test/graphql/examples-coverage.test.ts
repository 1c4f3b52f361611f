import { Kind } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildGraftSchema } from '../../src/graphql/schema.js';
import { exampleOperations } from './examples.js';

describe('examples.graphql', () => {
  it('names every operation once, and covers every root query and mutation of the schema', async () => {
    const names = exampleOperations.map((o) => o.name?.value);
    expect(names.every(Boolean)).toBe(true);
    expect(new Set(names).size).toBe(names.length);
    const schema = await buildGraftSchema();
    const used = new Set(exampleOperations.flatMap((o) => o.selectionSet.selections.map((s) => (s.kind === Kind.FIELD ? s.name.value : ''))));
    const roots = [...Object.keys(schema.getQueryType()!.getFields()), ...Object.keys(schema.getMutationType()?.getFields() ?? {}), ...Object.keys(schema.getSubscriptionType()?.getFields() ?? {})];
    expect(roots.filter((f) => !used.has(f))).toEqual([]);
  });
});
