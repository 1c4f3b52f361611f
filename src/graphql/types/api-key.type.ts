import { IsIn, Length } from 'class-validator';
import { ArgsType, Field, ID, ObjectType } from 'type-graphql';
import type { ApiKeyRecord } from '../../auth/index.js';
import { Role } from './enums.js';

@ObjectType({ description: 'An API key; its secret is shown only once, when it is created.' })
export class ApiKey {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => Role)
  role!: Role;

  @Field(() => String, { description: 'The public part of the key (graft_<prefix>_...), to recognise it.' })
  prefix!: string;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  lastUsedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  revokedAt!: Date | null;

  static from(r: ApiKeyRecord): ApiKey {
    return Object.assign(new ApiKey(), { ...r, id: String(r.id), role: r.role as Role });
  }
}

@ObjectType()
export class CreatedApiKey {
  @Field(() => String, { description: 'The secret: store it now, it cannot be shown again.' })
  key!: string;

  @Field(() => ApiKey)
  apiKey!: ApiKey;
}

@ArgsType()
export class CreateApiKeyArgs {
  @Field(() => String)
  @Length(1, 100)
  name!: string;

  @Field(() => Role)
  @IsIn(Object.values(Role))
  role!: Role;
}

@ObjectType({ description: 'The caller, as identified by its API key.' })
export class Viewer {
  @Field(() => String)
  name!: string;

  @Field(() => Role)
  role!: Role;
}
