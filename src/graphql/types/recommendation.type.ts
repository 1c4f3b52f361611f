import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { RecommendationTier } from './enums.js';
import { Item } from './item.type.js';
import { PageInfo } from './page-info.type.js';

/** Why an item was recommended. */
@ObjectType()
export class RecommendationReason {
  @Field(() => RecommendationTier)
  tier!: RecommendationTier;

  @Field(() => [Item], { description: "Items of the user's recent history closest to this one, best first (empty for POPULAR)." })
  becauseOf?: Item[];

  becauseOfRowIds!: number[];
}

@ObjectType()
export class Recommendation {
  /** Set by the resolver from the recommender's catalogue (no loader, no promise per edge). */
  @Field(() => Item)
  item!: Item;

  @Field(() => Float, {
    description:
      "The model's score, in [-1, 1]: the cosine of the user and item embeddings, or for inner-product models (IMPLICIT_ALS, item bias) u·v / (|u| max|v|), same order as u·v (popularity share for POPULAR).",
  })
  score!: number;

  @Field(() => Int, { description: '1-based rank across all pages.' })
  rank!: number;

  @Field(() => RecommendationReason)
  reason!: RecommendationReason;
}

@ObjectType()
export class RecommendationEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => Recommendation)
  node!: Recommendation;
}

@ObjectType()
export class RecommendationConnection {
  @Field(() => [RecommendationEdge])
  edges!: RecommendationEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => String)
  domain!: string;

  @Field(() => ID, { nullable: true, description: 'The model that produced the ranking (null for the popularity fallback).' })
  modelId!: string | null;

  @Field(() => Int, { nullable: true, description: "The model's version in its domain; cursors are valid while it stays active." })
  modelVersion!: number | null;

  @Field(() => RecommendationTier)
  tier!: RecommendationTier;

  @Field(() => String, { nullable: true, description: 'Set when the answer fell back to popularity, saying why.' })
  fallbackReason!: string | null;
}

@ObjectType()
export class SimilarItem {
  /** Set by the resolver from the recommender's catalogue. */
  @Field(() => Item)
  item!: Item;

  @Field(() => Float)
  score!: number;

  @Field(() => Int)
  rank!: number;
}

@ObjectType()
export class SimilarItems {
  @Field(() => [SimilarItem])
  items!: SimilarItem[];

  @Field(() => ID, { nullable: true })
  modelId!: string | null;

  @Field(() => Int, { nullable: true })
  modelVersion!: number | null;
}
