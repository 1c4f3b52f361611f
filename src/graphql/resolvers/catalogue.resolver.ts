import { ArrayMaxSize, Length, Max, Min } from 'class-validator';
import { Arg, Args, ArgsType, Authorized, Ctx, Field, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { graphqlError } from '../errors.js';
import { listDomains } from '../../logs/index.js';
import { Domain } from '../types/domain.type.js';
import { Role, type EventKind } from '../types/enums.js';
import { Item } from '../types/item.type.js';
import { Model } from '../types/model.type.js';
import { HistoryEvent, User } from '../types/user.type.js';
import { loadItems } from './load-items.js';
import { Cost } from '../limits/field-cost.js';

@ArgsType()
class ItemsArgs {
  @Field(() => String)
  @Length(1, 63)
  domain!: string;

  @Field(() => [ID], { description: 'External ids, at most 500; unknown ones come back as null.' })
  @ArrayMaxSize(500)
  ids!: string[];
}

@ArgsType()
class HistoryArgs {
  @Field(() => String)
  @Length(1, 63)
  domain!: string;

  @Field(() => Int, { defaultValue: 20, description: 'Newest first, 1..500.' })
  @Min(1)
  @Max(500)
  first!: number;
}

/** Catalogue and users, read through the request's DataLoaders (one SQL query per batch). */
@Resolver()
export class CatalogueResolver {
  @Authorized(Role.APP)
  @Query(() => Item, { nullable: true, description: 'One item by its external id; null when the domain has no such item.' })
  async item(@Arg('domain', () => String) domain: string, @Arg('id', () => ID) id: string, @Ctx() ctx: GraphqlContext): Promise<Item | null> {
    const item = await ctx.loaders.itemByExternalId.load({ domain, id });
    return item ? Item.from(item) : null;
  }

  @Authorized(Role.APP)
  @Cost({ listSize: { listArg: 'ids' } })
  @Query(() => [Item], { nullable: 'items', description: 'Items by external ids, in the order asked; null where unknown.' })
  async items(@Args(() => ItemsArgs) args: ItemsArgs, @Ctx() ctx: GraphqlContext): Promise<Array<Item | null>> {
    ctx.deadline.check();
    const found = await ctx.loaders.itemByExternalId.loadMany(args.ids.map((id) => ({ domain: args.domain, id })));
    return found.map((item) => {
      if (item instanceof Error) throw item;
      return item ? Item.from(item) : null;
    });
  }

  @Authorized(Role.APP)
  @Query(() => User, { nullable: true, description: 'A user by external id; null when never seen.' })
  async user(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphqlContext): Promise<User | null> {
    const user = await ctx.loaders.userByExternalId.load(id);
    return user ? Object.assign(new User(), { id: user.id, rowId: user.rowId }) : null;
  }

  @Authorized(Role.APP)
  @Cost({ listSize: { fixed: 20 } })
  @Query(() => [Domain], { description: 'Every domain with its catalogue size and active model.' })
  async domains(@Ctx() ctx: GraphqlContext): Promise<Domain[]> {
    return (await listDomains(ctx.db)).map((d) => Object.assign(new Domain(), d));
  }
}

@Resolver(() => User)
export class UserFieldsResolver {
  @Cost({ resolve: 5, listSize: { arg: 'first' } })
  @FieldResolver(() => [HistoryEvent], { description: "The user's newest events in a domain." })
  async history(@Root() user: User, @Args(() => HistoryArgs) args: HistoryArgs, @Ctx() ctx: GraphqlContext): Promise<HistoryEvent[]> {
    ctx.deadline.check();
    const entries = await ctx.loaders.history.load({ userRowId: user.rowId, domain: args.domain, limit: args.first });
    return entries.map((e) =>
      Object.assign(new HistoryEvent(), { itemRowId: e.itemRowId, kind: e.kind as EventKind, weight: e.weight, occurredAt: e.occurredAt }),
    );
  }
}

@Resolver(() => HistoryEvent)
export class HistoryEventFieldsResolver {
  @FieldResolver(() => Item)
  async item(@Root() event: HistoryEvent, @Ctx() ctx: GraphqlContext): Promise<Item> {
    ctx.deadline.check();
    return (await loadItems(ctx, [event.itemRowId]))[0]!;
  }
}

@Resolver(() => Domain)
export class DomainFieldsResolver {
  // A model's metrics, config and transfer report are analyst data, as through `models`/`model`
  // (apps see the serving model's id and version on every recommendations page).
  @Authorized(Role.ANALYST)
  @FieldResolver(() => Model, { nullable: true, description: 'The model serving this domain (role ANALYST and above).' })
  async activeModel(@Root() domain: Domain, @Ctx() ctx: GraphqlContext): Promise<Model | null> {
    if (!domain.activeModelId) return null;
    const model = await ctx.loaders.modelById.load(domain.activeModelId);
    if (!model) throw graphqlError('NOT_FOUND', `active model "${domain.activeModelId}" of domain "${domain.name}" vanished; list models with \`graft models\``);
    return Model.from(model);
  }
}
