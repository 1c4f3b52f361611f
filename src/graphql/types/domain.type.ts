import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Model } from './model.type.js';

/** One catalogue with its behaviour log. */
@ObjectType()
export class Domain {
  @Field(() => String)
  name!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => Int)
  items!: number;

  @Field(() => Model, { nullable: true, description: 'The model serving this domain (role ANALYST and above).' })
  activeModel?: Model | null;

  activeModelId!: string | null;
}
