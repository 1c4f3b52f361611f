import type { AuthChecker } from 'type-graphql';
import { roleAllows, type Role } from '../auth/roles.js';
import type { GraphqlContext } from './context.js';
import { graphqlError } from './errors.js';

/**
 * `@Authorized(Role)` on an operation: no key -> UNAUTHENTICATED; a key whose role is
 * below the one required -> FORBIDDEN (ADMIN > ANALYST > APP).
 */
export const authChecker: AuthChecker<GraphqlContext, Role> = ({ context, info }, roles) => {
  const principal = context.principal;
  if (!principal) {
    throw graphqlError('UNAUTHENTICATED', `"${info.fieldName}" needs an API key: send \`Authorization: Bearer KEY\` (create one with \`graft keys create --role APP --name my-app\`)`);
  }
  const needed = roles.length === 0 ? 'APP' : lowestRole(roles);
  if (!roleAllows(principal.role, needed)) {
    throw graphqlError('FORBIDDEN', `"${info.fieldName}" needs role ${needed} or above; key "${principal.name}" has role ${principal.role}`);
  }
  return true;
};

function lowestRole(roles: Role[]): Role {
  return roles.reduce((a, b) => (roleAllows(b, a) ? a : b));
}
