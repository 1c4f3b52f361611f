import { Length, Max, Min } from 'class-validator';
import { Arg, Args, ArgsType, Authorized, Ctx, Field, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { activateModel, getModel, listModels, retireModel, rollbackModel, type ActivationResult } from '../../registry/index.js';
import type { GraphqlContext } from '../context.js';
import { Role } from '../types/enums.js';
import { Activation, Model } from '../types/model.type.js';
import { Cost } from '../limits/field-cost.js';

@ArgsType()
class ModelsArgs {
  @Field(() => String, { nullable: true, description: 'Only this domain.' })
  @Length(1, 63)
  domain?: string | null;

  @Field(() => Int, { defaultValue: 50, description: 'Newest first, 1..500.' })
  @Min(1)
  @Max(500)
  first!: number;
}

/** The model registry: analysts read it, admins change which model serves a domain. */
@Resolver(() => Model)
export class ModelResolver {
  @Authorized(Role.ANALYST)
  @Cost({ listSize: { arg: 'first' } })
  @Query(() => [Model], { description: 'Registered models, newest first.' })
  async models(@Args(() => ModelsArgs) args: ModelsArgs, @Ctx() ctx: GraphqlContext): Promise<Model[]> {
    return (await listModels(ctx.db, { domain: args.domain ?? undefined, limit: args.first })).map(Model.from);
  }

  @Authorized(Role.ANALYST)
  @Query(() => Model, { description: 'One model by id.' })
  async model(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphqlContext): Promise<Model> {
    return Model.from(await getModel(ctx.db, id));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Activation, { description: 'Makes a READY model serve its domain, atomically. A negative-transfer model needs force: true.' })
  async activateModel(
    @Arg('id', () => ID) id: string,
    @Arg('force', () => Boolean, { defaultValue: false }) force: boolean,
    @Ctx() ctx: GraphqlContext,
  ): Promise<Activation> {
    return toActivation(await activateModel(ctx.db, id, { force }));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Activation, { description: "Re-activates the domain's previously active model." })
  async rollbackModel(@Arg('domain', () => String) domain: string, @Ctx() ctx: GraphqlContext): Promise<Activation> {
    return toActivation(await rollbackModel(ctx.db, domain));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Model, { description: 'Retires a model: it can no longer be activated (an active one must be replaced or rolled back first).' })
  async retireModel(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphqlContext): Promise<Model> {
    return Model.from(await retireModel(ctx.db, id));
  }

  @FieldResolver(() => Model, { nullable: true })
  async parent(@Root() model: Model, @Ctx() ctx: GraphqlContext): Promise<Model | null> {
    if (!model.parentModelId) return null;
    const parent = await ctx.loaders.modelById.load(model.parentModelId);
    return parent ? Model.from(parent) : null;
  }
}

@Resolver(() => Activation)
export class ActivationFieldsResolver {
  @FieldResolver(() => Model, { nullable: true })
  async previous(@Root() activation: Activation, @Ctx() ctx: GraphqlContext): Promise<Model | null> {
    if (!activation.previousModelId) return null;
    const previous = await ctx.loaders.modelById.load(activation.previousModelId);
    return previous ? Model.from(previous) : null;
  }
}

function toActivation(result: ActivationResult): Activation {
  return Object.assign(new Activation(), { model: Model.from(result.model), previousModelId: result.previousModelId });
}
