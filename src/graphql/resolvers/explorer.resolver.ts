import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Query, Resolver, Root } from 'type-graphql';
import { compareModels, getEmbedding, getTrainingCurve, nearestNeighbours, projectEmbeddings } from '../../explorer/index.js';
import { getModel } from '../../registry/index.js';
import type { GraphqlContext } from '../context.js';
import { Role } from '../types/enums.js';
import {
  Embedding,
  EmbeddingArgs,
  EmbeddingProjection,
  EmbeddingProjectionArgs,
  ModelComparison,
  ModelComparisonArgs,
  NearestNeighborsArgs,
  Neighbor,
  TrainingCurve,
  TrainingCurveSource,
} from '../types/explorer.type.js';
import { Model } from '../types/model.type.js';
import { Cost } from '../limits/field-cost.js';

/** The analysts' embedding explorer (role ANALYST): thin over src/explorer, which caches matrices and layouts. */
@Resolver()
export class ExplorerResolver {
  @Authorized(Role.ANALYST)
  @Cost({ resolve: 5 })
  @Query(() => Embedding, { description: 'The embedding a model gives a user or an item, with its norm.' })
  async embedding(@Args(() => EmbeddingArgs) args: EmbeddingArgs, @Ctx() ctx: GraphqlContext): Promise<Embedding> {
    ctx.deadline.check();
    return Embedding.from(await getEmbedding(ctx.db, args.modelId, args.kind, args.id));
  }

  @Authorized(Role.ANALYST)
  @Cost({ resolve: 100, listSize: { arg: 'first' } })
  @Query(() => [Neighbor], { description: 'The users or items closest (cosine, exact search) to one of the same kind in the same model, best first, itself excluded.' })
  async nearestNeighbors(@Args(() => NearestNeighborsArgs) args: NearestNeighborsArgs, @Ctx() ctx: GraphqlContext): Promise<Neighbor[]> {
    ctx.deadline.check();
    return (await nearestNeighbours(ctx.db, args.modelId, args.kind, args.id, args.first)).map(Neighbor.from);
  }

  @Authorized(Role.ANALYST)
  @Cost({ resolve: 10, perUnit: { arg: 'sample', cost: 5 } })
  @Query(() => EmbeddingProjection, {
    description: "A 2-D map (PCA or UMAP) of a seeded sample of a model's user or item embeddings, each point labelled and coloured. The layout is cached and stored with the model.",
  })
  async embeddingProjection(@Args(() => EmbeddingProjectionArgs) args: EmbeddingProjectionArgs, @Ctx() ctx: GraphqlContext): Promise<EmbeddingProjection> {
    ctx.deadline.check();
    const projection = await projectEmbeddings(ctx.db, { modelId: args.modelId, kind: args.kind, method: args.method, sample: args.sample, seed: args.seed, colorBy: args.colorBy });
    return EmbeddingProjection.from(projection, args);
  }

  @Authorized(Role.ANALYST)
  @Cost({ resolve: 10, perUnit: { arg: 'sample', cost: 5 } })
  @Query(() => ModelComparison, {
    description: 'Compares two models: neighbour overlap@k over shared users and items, mean cosine of shared users, per-layer relative weight change, and the transfer report.',
  })
  async modelComparison(@Args(() => ModelComparisonArgs) args: ModelComparisonArgs, @Ctx() ctx: GraphqlContext): Promise<ModelComparison> {
    ctx.deadline.check();
    return ModelComparison.from(await compareModels(ctx.db, args.a, args.b, { k: args.k, sample: args.sample }));
  }

  @Authorized(Role.ANALYST)
  @Cost({ resolve: 10 })
  @Query(() => TrainingCurve, { description: 'Loss and validation metric per epoch of the run that produced a model (and of its baseline for a transfer job).' })
  async trainingCurve(@Arg('modelId', () => ID) modelId: string, @Ctx() ctx: GraphqlContext): Promise<TrainingCurve> {
    ctx.deadline.check();
    const curve = await getTrainingCurve(ctx.db, modelId);
    return Object.assign(new TrainingCurve(), { ...curve, source: curve.source as TrainingCurveSource });
  }
}

@Resolver(() => ModelComparison)
export class ModelComparisonFieldsResolver {
  @FieldResolver(() => Model)
  async a(@Root() comparison: ModelComparison, @Ctx() ctx: GraphqlContext): Promise<Model> {
    return loadModel(ctx, comparison.aId);
  }

  @FieldResolver(() => Model)
  async b(@Root() comparison: ModelComparison, @Ctx() ctx: GraphqlContext): Promise<Model> {
    return loadModel(ctx, comparison.bId);
  }
}

async function loadModel(ctx: GraphqlContext, id: string): Promise<Model> {
  const model = await ctx.loaders.modelById.load(id);
  return model ? Model.from(model) : Model.from(await getModel(ctx.db, id));
}
