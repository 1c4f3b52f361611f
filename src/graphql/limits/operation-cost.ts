import {
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  valueFromASTUntyped,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { fieldCostOf, type FieldCost } from './field-cost.js';

/** What an operation asks for, as the limits count it. */
export interface OperationMeasure {
  /** Deepest nesting of fields (a leaf field is one level). */
  depth: number;
  /** Aliased fields, with every fragment spread expanded. */
  aliases: number;
  /** Estimated cost (see FieldCost). Can exceed Number.MAX_SAFE_INTEGER (then it is approximate): it is only compared with a limit. */
  cost: number;
}

/** Page size assumed for a list-size argument that is absent and has no default. */
const ASSUMED_LIST_SIZE = 100;

const ZERO: OperationMeasure = { depth: 0, aliases: 0, cost: 0 };

/**
 * Measures one operation in time linear in the document: each fragment is measured once (per
 * operation and variables) and reused at every spread, so fragments that spread each other
 * twice cannot make the measurement, or the refusal, exponential. Argument values come from
 * literals, the request's variables, variable defaults and argument defaults, in that order.
 *
 * @example
 * const { depth, aliases, cost } = measureOperation(schema, document, operation, { first: 20 });
 */
export function measureOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | undefined,
): OperationMeasure {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  }
  const values: Record<string, unknown> = {};
  for (const def of operation.variableDefinitions ?? []) {
    if (def.defaultValue) values[def.variable.name.value] = valueFromASTUntyped(def.defaultValue);
  }
  Object.assign(values, variables ?? {});

  const memo = new Map<string, OperationMeasure>();
  const inProgress = new Set<string>();

  const measureFragment = (name: string): OperationMeasure => {
    const known = memo.get(name);
    if (known) return known;
    const fragment = fragments.get(name);
    // Unknown fragments and cycles are refused by graphql's own validation rules.
    if (!fragment || inProgress.has(name)) return ZERO;
    inProgress.add(name);
    const measured = measureSet(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value), false);
    inProgress.delete(name);
    memo.set(name, measured);
    return measured;
  };

  /** `flat`: inside introspection (__schema, __type): every field costs 1, nothing multiplies or deepens. */
  const measureSet = (set: SelectionSetNode, parent: GraphQLNamedType | undefined | null, flat: boolean): OperationMeasure => {
    let depth = 0;
    let aliases = 0;
    let cost = 0;
    for (const sel of set.selections) {
      let inner: OperationMeasure;
      if (sel.kind === Kind.FIELD) {
        inner = measureField(sel, parent, flat);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        inner = measureSet(sel.selectionSet, sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parent, flat);
      } else {
        inner = measureFragment(sel.name.value);
      }
      depth = Math.max(depth, inner.depth);
      aliases += inner.aliases;
      cost += inner.cost;
    }
    return { depth, aliases, cost };
  };

  const measureField = (node: FieldNode, parent: GraphQLNamedType | undefined | null, flat: boolean): OperationMeasure => {
    const alias = node.alias ? 1 : 0;
    const name = node.name.value;
    const introspection = flat || name === '__schema' || name === '__type';
    const field = !introspection && parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[name] : undefined;
    const type = field ? getNamedType(field.type) : undefined;
    const inner = node.selectionSet ? measureSet(node.selectionSet, type, introspection) : ZERO;
    if (introspection) return { depth: 0, aliases: alias + inner.aliases, cost: 1 + inner.cost };
    const declared = field ? fieldCostOf(field) : undefined;
    const own = ownCost(declared, node, field, values);
    const times = listSize(declared, node, field, values);
    return { depth: 1 + inner.depth, aliases: alias + inner.aliases, cost: own + times * inner.cost };
  };

  return measureSet(operation.selectionSet, schema.getRootType(operation.operation), false);
}

function ownCost(declared: FieldCost | undefined, node: FieldNode, field: GraphQLField<unknown, unknown> | undefined, values: Record<string, unknown>): number {
  const base = declared?.resolve ?? 1;
  if (!declared?.perUnit) return base;
  return base + declared.perUnit.cost * intArgument(node, field, declared.perUnit.arg, values);
}

function listSize(declared: FieldCost | undefined, node: FieldNode, field: GraphQLField<unknown, unknown> | undefined, values: Record<string, unknown>): number {
  const size = declared?.listSize;
  if (!size) return 1;
  if ('fixed' in size) return size.fixed;
  if ('arg' in size) return intArgument(node, field, size.arg, values);
  const value = argumentValue(node, size.listArg, values);
  if (Array.isArray(value)) return value.length;
  return value === undefined || value === null ? 0 : 1;
}

/** An integer argument's value (at least 1), or a list argument's length; ASSUMED_LIST_SIZE when nothing gives it. */
function intArgument(node: FieldNode, field: GraphQLField<unknown, unknown> | undefined, name: string, values: Record<string, unknown>): number {
  let value = argumentValue(node, name, values);
  if (value === undefined) value = field?.args.find((a) => a.name === name)?.defaultValue;
  if (Array.isArray(value)) return value.length; // a list argument counts its elements
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  return Number.isFinite(n) ? Math.max(1, Math.floor(n)) : ASSUMED_LIST_SIZE;
}

/** The client's value of an argument (literal or variable), undefined when absent. */
function argumentValue(node: FieldNode, name: string, values: Record<string, unknown>): unknown {
  const arg = node.arguments?.find((a) => a.name.value === name);
  return arg ? literal(arg.value, values) : undefined;
}

function literal(value: ValueNode, values: Record<string, unknown>): unknown {
  if (value.kind === Kind.VARIABLE) return values[value.name.value];
  if (value.kind === Kind.INT || value.kind === Kind.FLOAT) return Number(value.value);
  if (value.kind === Kind.LIST) return value.values;
  if (value.kind === Kind.NULL) return null;
  return valueFromASTUntyped(value, values);
}
