import { Arg, Args, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { createApiKey, listApiKeys, revokeApiKey } from '../../auth/index.js';
import type { GraphqlContext } from '../context.js';
import { ApiKey, CreatedApiKey, CreateApiKeyArgs, Viewer } from '../types/api-key.type.js';
import { Role } from '../types/enums.js';
import { Cost } from '../limits/field-cost.js';

@Resolver()
export class ApiKeyResolver {
  @Authorized(Role.APP)
  @Query(() => Viewer, { description: 'Who the API key in the Authorization header belongs to.' })
  viewer(@Ctx() ctx: GraphqlContext): Viewer {
    return Object.assign(new Viewer(), { name: ctx.principal!.name, role: ctx.principal!.role as Role });
  }

  @Authorized(Role.ADMIN)
  @Cost({ listSize: { fixed: 100 } })
  @Query(() => [ApiKey])
  async apiKeys(@Ctx() ctx: GraphqlContext): Promise<ApiKey[]> {
    return (await listApiKeys(ctx.db)).map(ApiKey.from);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => CreatedApiKey, { description: 'Creates a key; the secret is in the answer and never shown again.' })
  async createApiKey(@Args(() => CreateApiKeyArgs) args: CreateApiKeyArgs, @Ctx() ctx: GraphqlContext): Promise<CreatedApiKey> {
    const { key, record } = await createApiKey(ctx.db, { name: args.name, role: args.role });
    return Object.assign(new CreatedApiKey(), { key, apiKey: ApiKey.from(record) });
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => ApiKey, { description: 'Revokes a key by id or prefix; requests with it fail from then on (within the server’s key cache time).' })
  async revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphqlContext): Promise<ApiKey> {
    return ApiKey.from(await revokeApiKey(ctx.db, id));
  }
}
