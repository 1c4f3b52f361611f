import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { enqueueJob, getJob, listJobEvents, listJobs, requestCancel, watchJob, type JobStatus as LibJobStatus } from '../../jobs/index.js';
import type { GraphqlContext } from '../context.js';
import { Role } from '../types/enums.js';
import { Job, JobConnection, JobEvent, JobsArgs, StartPretrainingInput, StartTransferInput } from '../types/job.type.js';
import { Model } from '../types/model.type.js';
import { Cost } from '../limits/field-cost.js';

/**
 * Admins start pretraining and transfer jobs and watch them. A mutation only enqueues (the
 * answer is the QUEUED job); `graft worker` processes (Postgres) or the server's in-process
 * runner (PGlite) run it.
 */
@Resolver(() => Job)
export class JobResolver {
  @Authorized(Role.ADMIN)
  @Cost({ resolve: 10 })
  @Mutation(() => Job, { description: 'Queues pretraining on a domain; the same idempotencyKey returns the same job.' })
  async startPretraining(@Arg('input', () => StartPretrainingInput) input: StartPretrainingInput, @Ctx() ctx: GraphqlContext): Promise<Job> {
    const { device, idempotencyKey, ...rest } = input;
    return Job.from(await enqueueJob(ctx.services.gdb, { kind: 'PRETRAIN', input: stripNulls(rest), device, idempotencyKey }));
  }

  @Authorized(Role.ADMIN)
  @Cost({ resolve: 10 })
  @Mutation(() => Job, { description: 'Queues a transfer from a source model to a target domain (with its same-budget baseline and report).' })
  async startTransfer(@Arg('input', () => StartTransferInput) input: StartTransferInput, @Ctx() ctx: GraphqlContext): Promise<Job> {
    const { device, idempotencyKey, ...rest } = input;
    return Job.from(await enqueueJob(ctx.services.gdb, { kind: 'TRANSFER', input: stripNulls(rest), device, idempotencyKey }));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Job, { description: 'A queued job never starts; a running one stops within seconds and ends CANCELLED, leaving no model.' })
  async cancelJob(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphqlContext): Promise<Job> {
    return Job.from(await requestCancel(ctx.services.gdb, id));
  }

  @Authorized(Role.ADMIN)
  @Cost({ listSize: { arg: 'first' } })
  @Query(() => JobConnection, { description: 'Jobs, newest first.' })
  async jobs(@Args(() => JobsArgs) args: JobsArgs, @Ctx() ctx: GraphqlContext): Promise<JobConnection> {
    const page = await listJobs(ctx.db, { status: (args.status ?? undefined) as LibJobStatus[] | undefined, first: args.first, after: args.after ?? undefined });
    return Object.assign(new JobConnection(), {
      edges: page.jobs.map((j) => ({ cursor: j.id, node: Job.from(j) })),
      pageInfo: { hasNextPage: page.hasNextPage, hasPreviousPage: Boolean(args.after), startCursor: page.jobs[0]?.id ?? null, endCursor: page.endCursor },
    });
  }

  @Authorized(Role.ADMIN)
  @Query(() => Job)
  async job(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphqlContext): Promise<Job> {
    return Job.from(await getJob(ctx.db, id));
  }

  @Authorized(Role.ADMIN)
  @Subscription(() => Job, {
    description: 'The job each time its status or progress changes (graphql-ws on /graphql); completes when the job ends.',
    subscribe: ({ args, context }) => watchJob((context as GraphqlContext).db, String(args.id), { intervalMs: 250 }),
  })
  jobProgress(@Root() job: import('../../jobs/index.js').JobRecord, @Arg('id', () => ID) _id: string): Job {
    return Job.from(job);
  }

  @Cost({ resolve: 5, listSize: { fixed: 100 } })
  @FieldResolver(() => [JobEvent])
  async events(@Root() job: Job, @Ctx() ctx: GraphqlContext): Promise<JobEvent[]> {
    return (await listJobEvents(ctx.db, job.id, { limit: 5000 })).map(JobEvent.from);
  }

  @FieldResolver(() => Model, { nullable: true })
  async model(@Root() job: Job, @Ctx() ctx: GraphqlContext): Promise<Model | null> {
    if (!job.modelId) return null;
    const model = await ctx.loaders.modelById.load(job.modelId);
    return model ? Model.from(model) : null;
  }
}

function stripNulls<T extends object>(input: T): { [K in keyof T]: Exclude<T[K], null> } {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null && v !== undefined)) as { [K in keyof T]: Exclude<T[K], null> };
}
