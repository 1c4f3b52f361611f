/**
 * `graft/server`: the adapters that run Graft as a service. The GraphQL API (type-graphql on
 * Apollo Server 5 over node:http, graphql-ws for subscriptions) and the training / transfer
 * job queue (graphile-worker on Postgres, in-process on PGlite) that its mutations feed.
 * Kept apart from `graft` so that a library user does not load Apollo or type-graphql.
 *
 * @example
 * import { connect } from 'graft';
 * import { startGraftServer } from 'graft/server';
 * const server = await startGraftServer({ gdb: await connect(), port: 4000 });
 */
import 'reflect-metadata';

// GraphQL service
export { buildGraftSchema } from './graphql/schema.js';
export { startGraftServer, type GraftServer, type GraftServerOptions } from './graphql/server/http-server.js';

// Jobs: training and transfer runs through a queue (graphile-worker on Postgres, in-process on PGlite), each in a child process
export { enqueueJob, getJob, getJobs, listJobEvents, listJobs, probeDevice, recoverStaleJobs, requestCancel, runJob, runWorker, startInProcessRunner, watchJob, TERMINAL_JOB_STATUSES, type GraftWorker, type InProcessRunner, type JobDevice, type JobEventRecord, type JobKind, type JobOutcome, type JobPage, type JobProgress, type JobRecord, type JobSpec, type JobStatus, type PretrainJobInput, type TransferJobInput, type WorkerOptions } from './jobs/index.js';
