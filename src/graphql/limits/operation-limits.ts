import type { Role } from '../../auth/roles.js';

/** Who a limit set is for: a role, or a caller without a key. */
export type Caller = Role | 'ANONYMOUS';

/** What one GraphQL operation may ask for, checked before it runs (and, for the deadline, while it runs). */
export interface OperationLimits {
  /** Largest query document, in UTF-8 bytes (checked before it is parsed). */
  maxDocumentBytes: number;
  /** Deepest selection: fields nested in fields (introspection's own nesting aside). */
  maxDepth: number;
  /** Aliased fields, counted as executed (a fragment spread twice counts twice). */
  maxAliases: number;
  /** Largest estimated cost: each field's declared resolution cost, times the page sizes it sits in (see field-cost.ts). */
  maxCost: number;
  /** Time budget of a query or mutation (ms): past it the operation is cancelled and the client gets TIMEOUT. */
  deadlineMs: number;
}

/**
 * The limits of each kind of caller, least for callers without a key (they can reach only
 * errors, `__typename` and, when enabled, introspection; their cost limit still admits an
 * ordinary operation, so that it is answered UNAUTHENTICATED, naming the missing key, rather
 * than refused for its cost). The cost unit is roughly "one row
 * or item produced": `recommendations(first: 20) { edges { node { item { id } } } }` costs
 * about 100, a 2,000-point `embeddingProjection` about 20,000.
 */
export const DEFAULT_OPERATION_LIMITS: Readonly<Record<Caller, Readonly<OperationLimits>>> = {
  ANONYMOUS: { maxDocumentBytes: 8 * 1024, maxDepth: 6, maxAliases: 10, maxCost: 1_000, deadlineMs: 2_000 },
  APP: { maxDocumentBytes: 64 * 1024, maxDepth: 12, maxAliases: 50, maxCost: 20_000, deadlineMs: 10_000 },
  ANALYST: { maxDocumentBytes: 128 * 1024, maxDepth: 12, maxAliases: 100, maxCost: 200_000, deadlineMs: 60_000 },
  ADMIN: { maxDocumentBytes: 128 * 1024, maxDepth: 12, maxAliases: 100, maxCost: 200_000, deadlineMs: 60_000 },
};

/** Limits per caller; a partial override keeps the defaults for what it leaves out. */
export type LimitsByCaller = Readonly<Record<Caller, Readonly<OperationLimits>>>;

export function resolveLimits(overrides: Partial<Record<Caller, Partial<OperationLimits>>> = {}): LimitsByCaller {
  const out = {} as Record<Caller, OperationLimits>;
  for (const caller of Object.keys(DEFAULT_OPERATION_LIMITS) as Caller[]) {
    out[caller] = { ...DEFAULT_OPERATION_LIMITS[caller], ...overrides[caller] };
  }
  return out;
}

/**
 * Operations estimated above this cost run one at a time per server process (HeavyGate): the
 * heaviest page an app asks for in normal use (`first: 100` with items and reasons, ~1,500)
 * never waits; 50 aliased pages do.
 */
export const DEFAULT_HEAVY_COST = 5_000;

/** The largest document any caller may send: the parser's and the WebSocket's hard cap. */
export function largestDocument(limits: LimitsByCaller): number {
  return Math.max(...Object.values(limits).map((l) => l.maxDocumentBytes));
}
