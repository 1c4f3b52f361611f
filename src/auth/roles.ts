import { ROLES, type Role } from '../db/tables/api-key.table.js';
import { GraftError } from '../errors.js';

export { ROLES, type Role };

/** ADMIN may do everything, ANALYST what APP may do plus the analyst queries, APP only app operations. */
const RANK: Record<Role, number> = { APP: 0, ANALYST: 1, ADMIN: 2 };

/** Whether a key of role `held` may perform an operation that needs `required`. */
export function roleAllows(held: Role, required: Role): boolean {
  return RANK[held] >= RANK[required];
}

export function parseRole(value: string): Role {
  const role = value.trim().toUpperCase();
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new GraftError('BAD_INPUT', `role "${value}" is unknown; use one of ${ROLES.join(', ')}`);
  }
  return role as Role;
}
