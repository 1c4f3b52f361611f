import { Field, Float, ID, ObjectType } from 'type-graphql';
import { EventKind } from './enums.js';
import { Item } from './item.type.js';

/** A person; the same id is the same person in every domain (that is what links domains). */
@ObjectType()
export class User {
  @Field(() => ID)
  id!: string;

  /** Database id, for loaders. */
  rowId!: number;
}

/** One behaviour event of a user's history. */
@ObjectType()
export class HistoryEvent {
  /** Resolved through the item loader (one query per batch of events). */
  @Field(() => Item)
  item?: Item;

  itemRowId!: number;

  @Field(() => EventKind)
  kind!: EventKind;

  @Field(() => Float)
  weight!: number;

  @Field(() => Date)
  occurredAt!: Date;
}
