import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * Whether the operation asks, below the current field, for the nested field `path` (e.g.
 * `['edges', 'node', 'reason', 'becauseOf']`), through aliases, inline fragments and
 * fragment spreads. Directives (`@skip`, `@include`) are not evaluated: a conditionally
 * selected field counts as selected, so the answer errs on doing the work.
 *
 * @example
 * const explain = selects(info, ['edges', 'node', 'reason', 'becauseOf']);
 */
export function selects(info: GraphQLResolveInfo, path: readonly string[]): boolean {
  return info.fieldNodes.some((node) => node.selectionSet !== undefined && selectsIn(node.selectionSet, path, 0, info));
}

function selectsIn(set: SelectionSetNode, path: readonly string[], depth: number, info: GraphQLResolveInfo): boolean {
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value !== path[depth]) continue;
      if (depth === path.length - 1) return true;
      if (selection.selectionSet && selectsIn(selection.selectionSet, path, depth + 1, info)) return true;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      if (selectsIn(selection.selectionSet, path, depth, info)) return true;
    } else {
      const fragment = info.fragments[selection.name.value];
      if (fragment && selectsIn(fragment.selectionSet, path, depth, info)) return true;
    }
  }
  return false;
}
