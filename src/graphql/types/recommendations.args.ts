import { ArrayMaxSize, IsOptional, Length, Max, Min, ValidateNested } from 'class-validator';
import { ArgsType, Field, Float, ID, InputType, Int } from 'type-graphql';

@InputType({ description: 'Restrict recommendations; filtered-out items are replaced, so pages stay full.' })
export class RecommendationFilter {
  @Field(() => [String], { nullable: true, description: 'Only items with at least one of these tags.' })
  @IsOptional()
  @ArrayMaxSize(100)
  tagsAny?: string[] | null;

  @Field(() => [String], { nullable: true, description: 'Never items with any of these tags.' })
  @IsOptional()
  @ArrayMaxSize(100)
  tagsNone?: string[] | null;

  @Field(() => [ID], { nullable: true, description: 'Never these items (external ids; unknown ones are ignored).' })
  @IsOptional()
  @ArrayMaxSize(1000)
  excludeItemIds?: string[] | null;
}

@ArgsType()
export class RecommendationsArgs {
  @Field(() => ID)
  @Length(1, 200)
  userId!: string;

  @Field(() => String)
  @Length(1, 63)
  domain!: string;

  @Field(() => Int, { defaultValue: 20, description: 'Page size, 1..500.' })
  @Min(1)
  @Max(500)
  first!: number;

  @Field(() => String, { nullable: true, description: 'endCursor of the previous page.' })
  @IsOptional()
  @Length(1, 500)
  after?: string | null;

  @Field(() => Boolean, { defaultValue: true, description: 'Leave out items the user already interacted with in this domain.' })
  excludeSeen!: boolean;

  @Field(() => RecommendationFilter, { nullable: true })
  @IsOptional()
  @ValidateNested()
  filter?: RecommendationFilter | null;

  @Field(() => Float, { nullable: true, description: 'MMR diversity, 0 (pure relevance) .. 1 (most diverse).' })
  @IsOptional()
  @Min(0)
  @Max(1)
  diversity?: number | null;
}

@ArgsType()
export class SimilarItemsArgs {
  @Field(() => ID)
  @Length(1, 500)
  itemId!: string;

  @Field(() => String)
  @Length(1, 63)
  domain!: string;

  @Field(() => Int, { defaultValue: 20, description: '1..500.' })
  @Min(1)
  @Max(500)
  first!: number;
}
