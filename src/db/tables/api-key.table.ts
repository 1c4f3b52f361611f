import type { Generated } from 'kysely';

export const ROLES = ['APP', 'ANALYST', 'ADMIN'] as const;
export type Role = (typeof ROLES)[number];

/** API keys: only a hash is stored; the key itself is shown once at creation. */
export interface ApiKeyTable {
  id: Generated<number>;
  name: string;
  role: Role;
  key_hash: string;
  /** First characters of the key, so an admin can tell keys apart without the secret. */
  prefix: string;
  created_at: Generated<Date>;
  last_used_at: Date | null;
  revoked_at: Date | null;
}
