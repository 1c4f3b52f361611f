import type { Generated } from 'kysely';

/**
 * Users are global: the same external id is the same person in every domain.
 * That shared identity is what links a source domain to a target domain.
 */
export interface UserTable {
  id: Generated<number>;
  external_id: string;
  created_at: Generated<Date>;
}
