import { Field, ID, ObjectType } from 'type-graphql';
import type { CatalogueItem } from '../../logs/index.js';

/** An item of one domain's catalogue. */
// Plain fields read directly by graphql-js (no per-field wrapper); no field has middleware or @Authorized.
@ObjectType({ simpleResolvers: true })
export class Item {
  @Field(() => ID, { description: 'External id, unique within the domain.' })
  id!: string;

  @Field(() => String)
  domain!: string;

  @Field(() => String, { nullable: true })
  title!: string | null;

  @Field(() => [String])
  tags!: string[];

  static from(item: Pick<CatalogueItem, 'id' | 'domain' | 'title' | 'tags'>): Item {
    return Object.assign(new Item(), { id: item.id, domain: item.domain, title: item.title, tags: item.tags });
  }
}
