import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValueNode,
} from 'graphql';

export interface QueryLimits {
  /** Deepest selection allowed (fields nested in fields). */
  maxDepth: number;
  /** Largest estimated cost: every field costs 1, times the page size of the lists it sits in. */
  maxCost: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = { maxDepth: 12, maxCost: 20_000 };

/** Page size assumed for a list field whose size is not a literal `first` (the schema's largest page). */
const ASSUMED_LIST_SIZE = 100;

/**
 * Validation rule rejecting operations deeper than `maxDepth` or costlier than `maxCost`,
 * before anything runs (clients see `GRAPHQL_VALIDATION_FAILED`, like any invalid query). Cost multiplies by a literal `first:` (or the length of a literal
 * `ids:` list) so `recommendations(first: 500) { edges { node { reason { becauseOf { id } } } } }`
 * is priced as 500 items with their reasons.
 */
export function queryLimitsRule(limits: QueryLimits = DEFAULT_QUERY_LIMITS) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    }
    const measure = (set: SelectionSetNode | undefined, depth: number, seen: Set<string>): { depth: number; cost: number } => {
      if (!set) return { depth, cost: 0 };
      let deepest = depth;
      let cost = 0;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          if (sel.name.value.startsWith('__')) continue;
          const inner = measure(sel.selectionSet, depth + 1, seen);
          deepest = Math.max(deepest, inner.depth);
          cost += multiplier(sel) * (1 + inner.cost);
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          const inner = measure(sel.selectionSet, depth, seen);
          deepest = Math.max(deepest, inner.depth);
          cost += inner.cost;
        } else {
          const name = sel.name.value;
          if (seen.has(name)) continue; // cycles are rejected by graphql's own NoFragmentCycles rule
          const fragment = fragments.get(name);
          const inner = measure(fragment?.selectionSet, depth, new Set([...seen, name]));
          deepest = Math.max(deepest, inner.depth);
          cost += inner.cost;
        }
      }
      return { depth: deepest, cost };
    };
    return {
      OperationDefinition(node) {
        const { depth, cost } = measure(node.selectionSet, 0, new Set());
        const name = node.name?.value ?? 'anonymous operation';
        if (depth > limits.maxDepth) {
          context.reportError(
            new GraphQLError(`${name} is nested ${depth} levels deep; the limit is ${limits.maxDepth}: ask for fewer nested fields`, {
              nodes: [node],
            }),
          );
        }
        if (cost > limits.maxCost) {
          context.reportError(
            new GraphQLError(`${name} has an estimated cost of ${cost}; the limit is ${limits.maxCost}: ask for smaller pages (first) or fewer fields`, {
              nodes: [node],
            }),
          );
        }
      },
    };
  };
}

function multiplier(field: FieldNode): number {
  for (const arg of field.arguments ?? []) {
    if (arg.name.value === 'first') return literalInt(arg.value) ?? ASSUMED_LIST_SIZE;
    if (arg.name.value === 'ids' || arg.name.value === 'events') return arg.value.kind === Kind.LIST ? Math.max(1, arg.value.values.length) : ASSUMED_LIST_SIZE;
  }
  return 1;
}

function literalInt(value: ValueNode): number | undefined {
  return value.kind === Kind.INT ? Math.max(1, Number(value.value)) : undefined;
}
