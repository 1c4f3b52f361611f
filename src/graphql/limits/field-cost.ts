import type { GraphQLField } from 'graphql';
import { Extensions } from 'type-graphql';

/**
 * What resolving a field costs, declared on the field with `@Cost(...)`. A field without a
 * declaration costs 1 and does not multiply what it contains.
 *
 * @example
 * // a page of recommendations: a ranking (20), then each of `first` edges costs what it selects
 * @Cost({ resolve: 20, listSize: { arg: 'first' } })
 */
export interface FieldCost {
  /** Cost of resolving the field once (default 1). */
  resolve?: number;
  /** Added to `resolve`: this much per unit of an integer argument (a projection's `sample`) or per element of a list argument (`events`). */
  perUnit?: { arg: string; cost: number };
  /**
   * How many times what the field selects is produced: an integer argument (`first`, `sample`),
   * the length of a list argument (`ids`), or a fixed bound for a list without one.
   */
  listSize?: { arg: string } | { listArg: string } | { fixed: number };
}

const KEY = 'cost';

/** Declares a field's resolution cost for the operation limits (stored in the field's GraphQL extensions). */
export function Cost(cost: FieldCost): MethodDecorator & PropertyDecorator {
  return Extensions({ [KEY]: cost }) as MethodDecorator & PropertyDecorator;
}

export function fieldCostOf(field: GraphQLField<unknown, unknown>): FieldCost | undefined {
  return field.extensions?.[KEY] as FieldCost | undefined;
}
