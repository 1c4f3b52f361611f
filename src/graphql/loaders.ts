import DataLoader from 'dataloader';
import type { Db } from '../db/database.js';
import {
  findItemsByExternalIds,
  findItemsByRowIds,
  findUsersByExternalIds,
  itemKey,
  recentHistories,
  type CatalogueItem,
  type CatalogueUser,
  type HistoryEntry,
} from '../logs/index.js';
import { getModels, type ModelRecord } from '../registry/index.js';

/** Per-request batching: every loader turns the lookups of one tick into one SQL query. */
export interface Loaders {
  itemByRowId: DataLoader<number, CatalogueItem | null>;
  itemByExternalId: DataLoader<{ domain: string; id: string }, CatalogueItem | null, string>;
  userByExternalId: DataLoader<string, CatalogueUser | null>;
  history: DataLoader<{ userRowId: number; domain: string; limit: number }, HistoryEntry[], string>;
  modelById: DataLoader<string, ModelRecord | null>;
}

export function createLoaders(db: Db): Loaders {
  return {
    itemByRowId: new DataLoader(async (ids) => {
      const found = await findItemsByRowIds(db, ids);
      return ids.map((id) => found.get(id) ?? null);
    }),
    itemByExternalId: new DataLoader(
      async (keys) => {
        const found = await findItemsByExternalIds(db, keys);
        return keys.map((k) => found.get(itemKey(k.domain, k.id)) ?? null);
      },
      { cacheKeyFn: (k) => itemKey(k.domain, k.id) },
    ),
    userByExternalId: new DataLoader(async (ids) => {
      const found = await findUsersByExternalIds(db, ids);
      return ids.map((id) => found.get(id) ?? null);
    }),
    history: new DataLoader((requests) => recentHistories(db, requests), {
      cacheKeyFn: (r) => `${r.userRowId}\u0000${r.domain}\u0000${r.limit}`,
    }),
    modelById: new DataLoader(async (ids) => {
      const found = new Map((await getModels(db, ids)).map((m) => [m.id, m]));
      return ids.map((id) => found.get(id) ?? null);
    }),
  };
}
