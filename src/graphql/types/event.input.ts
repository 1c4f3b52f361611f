import { ArrayMaxSize, ArrayMinSize, IsNumber, IsOptional, Length, Max, Min, ValidateNested } from 'class-validator';
import { ArgsType, Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import { EventKind } from './enums.js';

@InputType({ description: 'One behaviour event, as an app reports it.' })
export class EventInput {
  @Field(() => ID)
  @Length(1, 200)
  userId!: string;

  @Field(() => String)
  @Length(1, 63)
  domain!: string;

  @Field(() => ID, { description: 'External item id; the item must exist in the domain.' })
  @Length(1, 500)
  itemId!: string;

  @Field(() => EventKind)
  kind!: EventKind;

  @Field(() => Float, { defaultValue: 1, description: 'Up to 1,000,000 in size (stored as a 4-byte float).' })
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-1_000_000)
  @Max(1_000_000)
  weight!: number;

  @Field(() => Date, { nullable: true, description: 'When it happened; defaults to now.' })
  @IsOptional()
  occurredAt?: Date | null;
}

@ArgsType()
export class RecordEventsArgs {
  @Field(() => [EventInput])
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @ValidateNested()
  events!: EventInput[];
}

@ObjectType()
export class RecordEventsResult {
  @Field(() => Int)
  recorded!: number;

  @Field(() => Int, { description: 'Users seen for the first time.' })
  usersCreated!: number;
}
