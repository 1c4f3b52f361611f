import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { RecommendationTier } from './enums.js';
import { Item } from './item.type.js';
import { PageInfo } from './page-info.type.js';

// The recommendation types are on every app request: their plain fields are read by graphql-js
// directly (`simpleResolvers`) instead of through a type-graphql wrapper per field. None of
// their fields has middleware or @Authorized of its own (field resolvers are still wrapped).

/** Why an item was recommended. */
@ObjectType({ simpleResolvers: true })
export class RecommendationReason {
  @Field(() => RecommendationTier)
  tier!: RecommendationTier;

  @Field(() => [Item], { description: "Items of the user's recent history closest to this one, best first (empty for POPULAR)." })
  becauseOf?: Item[];

  becauseOfRowIds!: number[];
}

@ObjectType({ simpleResolvers: true })
export class Recommendation {
  /** Set by the resolver from the recommender's catalogue (no loader, no promise per edge). */
  @Field(() => Item)
  item!: Item;

  @Field(() => Float, {
    description:
      "The model's score, in [-1, 1]: the cosine of the user and item embeddings, or for inner-product models (IMPLICIT_ALS, HYBRID, item bias) u·v / (|u| max|v|), same order as u·v (popularity share for POPULAR).",
  })
  score!: number;

  @Field(() => Int, { description: '1-based rank across all pages.' })
  rank!: number;

  @Field(() => RecommendationReason)
  reason!: RecommendationReason;
}

@ObjectType({ simpleResolvers: true })
export class RecommendationEdge {
  @Field(() => String)
  get cursor(): string {
    return this.cursorOf(this.index);
  }

  @Field(() => Recommendation)
  node!: Recommendation;

  /** Encodes the cursor when a query selects it (most read only pageInfo.endCursor). */
  constructor(
    node: Recommendation,
    private readonly index: number,
    private readonly cursorOf: (i: number) => string,
  ) {
    this.node = node;
  }
}

@ObjectType({ simpleResolvers: true })
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

@ObjectType({ simpleResolvers: true })
export class SimilarItem {
  /** Set by the resolver from the recommender's catalogue. */
  @Field(() => Item)
  item!: Item;

  @Field(() => Float)
  score!: number;

  @Field(() => Int)
  rank!: number;
}

@ObjectType({ simpleResolvers: true })
export class SimilarItems {
  @Field(() => [SimilarItem])
  items!: SimilarItem[];

  @Field(() => ID, { nullable: true })
  modelId!: string | null;

  @Field(() => Int, { nullable: true })
  modelVersion!: number | null;
}
