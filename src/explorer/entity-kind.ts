import { GraftError } from '../errors.js';

/** Which embeddings of a model: its users' (user tower outputs) or its items' (item tower outputs). */
export type EntityKind = 'USER' | 'ITEM';

export const ENTITY_KINDS: readonly EntityKind[] = ['USER', 'ITEM'];

/** Throws BAD_INPUT unless `kind` is USER or ITEM. */
export function requireEntityKind(kind: string): EntityKind {
  if (kind !== 'USER' && kind !== 'ITEM') {
    throw new GraftError('BAD_INPUT', `entity kind "${kind}" is not USER or ITEM; pass USER for user embeddings or ITEM for item embeddings`);
  }
  return kind;
}

/** "user" / "item", for messages. */
export function entityNoun(kind: EntityKind): string {
  return kind === 'USER' ? 'user' : 'item';
}
