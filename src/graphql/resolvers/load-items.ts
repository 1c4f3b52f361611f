import { GraftError } from '../../errors.js';
import type { GraphqlContext } from '../context.js';
import { Item } from '../types/item.type.js';

/** Items by database id through the request's loader; an id that vanished (deleted item) is an internal error. */
export async function loadItems(ctx: GraphqlContext, rowIds: readonly number[]): Promise<Item[]> {
  const found = await ctx.loaders.itemByRowId.loadMany(rowIds);
  return found.map((item, i) => {
    if (item instanceof Error) throw item;
    if (!item) throw new GraftError('INTERNAL', `item row ${rowIds[i]} is referenced by the model but missing from the catalogue`);
    return Item.from(item);
  });
}
