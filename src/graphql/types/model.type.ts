import { Field, ID, Int, ObjectType } from 'type-graphql';
import type { ModelRecord } from '../../registry/index.js';
import { ModelKind, ModelStatus, TransferStrategy } from './enums.js';
import { JSONScalar } from './json.scalar.js';

/** A registered model version of one domain. */
@ObjectType()
export class Model {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  domain!: string;

  @Field(() => Int)
  version!: number;

  @Field(() => ModelKind)
  kind!: ModelKind;

  @Field(() => TransferStrategy, { nullable: true })
  strategy!: TransferStrategy | null;

  @Field(() => ModelStatus)
  status!: ModelStatus;

  @Field(() => Model, { nullable: true, description: 'The source model a transfer came from (lineage).' })
  parent?: Model | null;

  parentModelId!: string | null;

  @Field(() => JSONScalar)
  config!: Record<string, unknown>;

  @Field(() => JSONScalar)
  metrics!: Record<string, unknown>;

  @Field(() => JSONScalar, { nullable: true })
  transferReport!: Record<string, unknown> | null;

  @Field(() => Boolean, { description: "True when the gain over the same-budget baseline was not above 0 with 95% confidence; such a model is only activated with force." })
  negativeTransfer!: boolean;

  @Field(() => String, { nullable: true })
  backend!: string | null;

  @Field(() => String, { nullable: true })
  device!: string | null;

  @Field(() => ID, { nullable: true })
  jobId!: string | null;

  @Field(() => String, { nullable: true })
  error!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  readyAt!: Date | null;

  static from(m: ModelRecord): Model {
    return Object.assign(new Model(), {
      id: m.id,
      domain: m.domain,
      version: m.version,
      kind: m.kind as ModelKind,
      strategy: m.strategy as TransferStrategy | null,
      status: m.status as ModelStatus,
      parentModelId: m.parentModelId,
      config: m.config,
      metrics: m.metrics,
      transferReport: m.transferReport,
      negativeTransfer: m.negativeTransfer,
      backend: m.backend,
      device: m.device,
      jobId: m.jobId,
      error: m.error,
      createdAt: m.createdAt,
      readyAt: m.readyAt,
    });
  }
}

@ObjectType()
export class Activation {
  @Field(() => Model)
  model!: Model;

  @Field(() => Model, { nullable: true, description: 'The model that was active before (null if none).' })
  previous?: Model | null;

  previousModelId!: string | null;
}
