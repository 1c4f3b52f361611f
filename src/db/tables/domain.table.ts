import type { Generated } from 'kysely';

/** A domain is one catalogue with its behaviour log (e.g. "sport", "cloth"). */
export interface DomainTable {
  id: Generated<number>;
  name: string;
  description: string | null;
  /** The model serving this domain; changed only through the registry's activation. */
  active_model_id: string | null;
  created_at: Generated<Date>;
}
