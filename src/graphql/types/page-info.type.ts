import { Field, ObjectType } from 'type-graphql';

/** Relay-style page information. */
// Plain fields read directly by graphql-js (no per-field wrapper); no field has middleware or @Authorized.
@ObjectType({ simpleResolvers: true })
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => Boolean)
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true })
  startCursor!: string | null;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}
