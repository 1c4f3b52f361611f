import type { GraphQLResolveInfo } from 'graphql';
import { Args, Authorized, Ctx, FieldResolver, Info, Query, Resolver, Root } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { Role, type RecommendationTier } from '../types/enums.js';
import { Item } from '../types/item.type.js';
import {
  Recommendation,
  RecommendationConnection,
  RecommendationEdge,
  RecommendationReason,
  SimilarItem,
  SimilarItems,
} from '../types/recommendation.type.js';
import { RecommendationsArgs, SimilarItemsArgs } from '../types/recommendations.args.js';
import { loadItems } from './load-items.js';
import { selects } from './selects.js';
import { Cost } from '../limits/field-cost.js';

/** App operations: personalised recommendations and similar items (role APP and above). */
@Resolver(() => RecommendationConnection)
export class RecommendationResolver {
  @Authorized(Role.APP)
  @Cost({ resolve: 20, listSize: { arg: 'first' } })
  @Query(() => RecommendationConnection, {
    description:
      "A user's recommendations in a domain, best first. Unknown users get popular items (tier POPULAR); a domain without an active model falls back to popularity and says so in fallbackReason.",
  })
  async recommendations(@Args(() => RecommendationsArgs) args: RecommendationsArgs, @Ctx() ctx: GraphqlContext, @Info() info: GraphQLResolveInfo): Promise<RecommendationConnection> {
    ctx.deadline.check();
    const page = await ctx.services.recommender.recommend({
      userId: args.userId,
      domain: args.domain,
      first: args.first,
      after: args.after ?? null,
      excludeSeen: args.excludeSeen,
      filter: args.filter ?? null,
      diversity: args.diversity ?? null,
      // Explanations cost a similarity per recent history item and edge: only when asked for.
      explain: selects(info, ['edges', 'node', 'reason', 'becauseOf']),
    });
    return Object.assign(new RecommendationConnection(), {
      domain: page.domain,
      modelId: page.modelId,
      modelVersion: page.modelVersion,
      tier: page.tier as RecommendationTier,
      fallbackReason: page.fallbackReason,
      pageInfo: { hasNextPage: page.hasNextPage, hasPreviousPage: page.hasPreviousPage, startCursor: page.startCursor, endCursor: page.endCursor },
      edges: page.items.map(
        (r, i) =>
          new RecommendationEdge(
            Object.assign(new Recommendation(), {
              // The recommender already holds the item: no loader, no promise per edge.
              item: Item.from({ id: r.externalId, domain: page.domain, title: r.title, tags: r.tags }),
              score: r.score,
              rank: r.rank,
              reason: Object.assign(new RecommendationReason(), { tier: r.tier as RecommendationTier, becauseOfRowIds: r.becauseOf }),
            }),
            i,
            page.cursorOf,
          ),
      ),
    });
  }

  @Authorized(Role.APP)
  @Cost({ resolve: 10, listSize: { arg: 'first' } })
  @Query(() => SimilarItems, { description: 'Items closest to an item in the active model of its domain.' })
  async similarItems(@Args(() => SimilarItemsArgs) args: SimilarItemsArgs, @Ctx() ctx: GraphqlContext): Promise<SimilarItems> {
    ctx.deadline.check();
    const found = await ctx.services.recommender.similarItems(args.domain, args.itemId, args.first);
    return Object.assign(new SimilarItems(), {
      modelId: found.modelId,
      modelVersion: found.modelVersion,
      // The recommender already holds the items, as for recommendations.
      items: found.items.map((s) =>
        Object.assign(new SimilarItem(), { item: Item.from({ id: s.externalId, domain: args.domain, title: s.title, tags: s.tags }), score: s.score, rank: s.rank }),
      ),
    });
  }
}

@Resolver(() => RecommendationReason)
export class RecommendationReasonResolver {
  @Cost({ listSize: { fixed: 3 } })
  @FieldResolver(() => [Item])
  becauseOf(@Root() reason: RecommendationReason, @Ctx() ctx: GraphqlContext): Promise<Item[]> {
    ctx.deadline.check();
    return loadItems(ctx, reason.becauseOfRowIds);
  }
}
