import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { requireBuild, waitFor, WorkerProcess } from '../support/job-helpers.js';
import { codes, gql, type ServerFixture } from './server-fixture.js';

const JOB_FIELDS = 'id kind status deviceRequested device backend error attempts progress { phase epoch epochs step steps loss examplesPerSecond eta } model { id domain kind strategy parent { id } } transferReport';

/**
 * Admin jobs through GraphQL: on PGlite the server's in-process runner runs them, on
 * Postgres a real `graft worker` process does.
 */
export function describeJobs(kind: string, fixture: () => ServerFixture): void {
  describe('jobs through GraphQL', () => {
    let fx: ServerFixture;
    let worker: WorkerProcess | undefined;

    beforeAll(async () => {
      requireBuild();
      fx = fixture();
      if (kind === 'postgres') worker = await WorkerProcess.start(fx.db.url!, ['--concurrency', '1', '--device', 'cpu']);
    }, 90_000);
    afterAll(async () => worker?.stop());

    const start = (input: Record<string, unknown>, key = fx.keys.admin) =>
      gql(fx, `mutation($input: StartTransferInput!) { startTransfer(input: $input) { ${JOB_FIELDS} } }`, { key, variables: { input } });

    it('only admins may start jobs', async () => {
      const res = await start({ sourceModelId: fx.sourceModelId, targetDomain: 'target', strategy: 'FEATURE_EXTRACTION' }, fx.keys.analyst);
      expect(codes(res)).toEqual(['FORBIDDEN']);
      const bad = await start({ sourceModelId: fx.sourceModelId, targetDomain: 'target', strategy: 'PARTIAL', epochs: 0 });
      expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
    });

    it('startTransfer queues at once; the subscription streams progress until it SUCCEEDS with a registered model', async () => {
      const res = await start({ sourceModelId: fx.sourceModelId, targetDomain: 'target', strategy: 'FEATURE_EXTRACTION', epochs: 2, idempotencyKey: `t-${kind}` });
      expect(res.errors).toBeUndefined();
      const job = res.data!.startTransfer;
      expect(job.status).toBe('QUEUED');
      expect(job.kind).toBe('TRANSFER');

      const client = createClient({
        url: fx.server.url.replace('http', 'ws'),
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${fx.keys.admin}` },
      });
      const seen: Array<{ status: string; progress: { phase: string; step: number } | null }> = [];
      try {
        const iterator = client.iterate<{ jobProgress: { status: string; progress: { phase: string; step: number } | null; model: { id: string } | null } }>({
          query: `subscription($id: ID!) { jobProgress(id: $id) { status progress { phase step steps } model { id } } }`,
          variables: { id: job.id },
        });
        for await (const message of iterator) {
          expect(message.errors).toBeUndefined();
          seen.push(message.data!.jobProgress);
        }
      } finally {
        await client.dispose();
      }
      expect(seen.at(-1)!.status).toBe('SUCCEEDED');
      expect(seen.some((s) => s.status === 'RUNNING' && s.progress !== null)).toBe(true);

      const done = (await gql(fx, `query($id: ID!) { job(id: $id) { ${JOB_FIELDS} events { kind payload } } }`, { key: fx.keys.admin, variables: { id: job.id } })).data!.job;
      expect(done.status).toBe('SUCCEEDED');
      expect(done.backend).toBeTruthy();
      expect(done.device).toBe('CPU');
      expect(done.model.parent.id).toBe(fx.sourceModelId);
      expect(done.model.strategy).toBe('FEATURE_EXTRACTION');
      expect(done.transferReport.gain['hr@10']).toBeDefined();
      // The JOINT reference (on by default) was trained in its own phase and reported with the gain over it.
      expect(done.transferReport.joint.strategy).toBe('JOINT');
      expect(done.transferReport.joint.gain['hr@10'].value).toBeCloseTo(done.transferReport.metrics['hr@10'] - done.transferReport.joint.metrics['hr@10'], 6);
      expect(done.events.some((e: { kind: string; payload: { phase?: string } }) => e.kind === 'phase' && e.payload.phase === 'joint')).toBe(true);
      const kinds = done.events.map((e: { kind: string }) => e.kind);
      expect(kinds[0]).toBe('queued');
      expect(kinds).toContain('epoch');
      expect(kinds.at(-1)).toBe('succeeded');

      // The same idempotency key returns the same job.
      const again = await start({ sourceModelId: fx.sourceModelId, targetDomain: 'target', strategy: 'FEATURE_EXTRACTION', epochs: 2, idempotencyKey: `t-${kind}` });
      expect(again.data!.startTransfer.id).toBe(job.id);
      const listed = (await gql(fx, '{ jobs(status: [SUCCEEDED], first: 5) { edges { node { id } } pageInfo { hasNextPage } } }', { key: fx.keys.admin })).data!.jobs;
      expect(listed.edges.map((e: { node: { id: string } }) => e.node.id)).toContain(job.id);
    }, 180_000);

    it('startTransfer with strategy JOINT trains from scratch on both domains; replay settings are refused for it', async () => {
      const bad = await start({ sourceModelId: fx.sourceModelId, targetDomain: 'target', strategy: 'JOINT', replayWeight: 0.5 });
      expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
      expect(bad.errors![0]!.message).toMatch(/replayWeight = 0.5 applies to strategy FEATURE_EXTRACTION or PARTIAL or FULL only/);
      const res = await start({ sourceModelId: fx.sourceModelId, targetDomain: 'target', strategy: 'JOINT', epochs: 2 });
      expect(res.errors).toBeUndefined();
      const id = res.data!.startTransfer.id as string;
      // Each poll on a connection of its own: on PGlite, polling one kept-alive connection through this
      // longer job met ECONNRESET from the client (every poll on a fresh connection was answered).
      await waitFor('the JOINT job to end', async () => {
        const r = await fetch(fx.server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${fx.keys.admin}`, connection: 'close' },
          body: JSON.stringify({ query: `{ job(id: "${id}") { status } }` }),
        });
        const j = ((await r.json()) as { data: { job: { status: string } } }).data.job;
        return ['CANCELLED', 'FAILED', 'SUCCEEDED'].includes(j.status);
      }, 120_000);
      const job = (await gql(fx, `query($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`, { key: fx.keys.admin, variables: { id } })).data!.job;
      expect(job.error).toBeNull();
      expect(job.status).toBe('SUCCEEDED');
      expect(job.model.strategy).toBe('JOINT');
      expect(job.model.parent.id).toBe(fx.sourceModelId);
      expect(job.transferReport).toMatchObject({ strategy: 'JOINT', start: 'scratch', replayWeight: 0, sourceEvents: { weight: 1 } });
      expect(job.transferReport.sourceEvents.events).toBeGreaterThan(0);
      expect(job.transferReport.joint).toBeUndefined();
    }, 180_000);

    it('startPretraining with objective IMPLICIT_ALS trains an ALS model; an MLP with it is refused naming the fix', async () => {
      const bad = await gql(fx, `mutation { startPretraining(input: { domain: "source", objective: IMPLICIT_ALS, layers: [64] }) { id } }`, { key: fx.keys.admin });
      expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
      expect(bad.errors![0]!.message).toMatch(/layers = \[64\] with objective implicit-als/);
      const res = await gql(fx, `mutation { startPretraining(input: { domain: "source", epochs: 2, dim: 8, objective: IMPLICIT_ALS, alsAlpha: 1, alsRegularization: 10 }) { id } }`, { key: fx.keys.admin });
      expect(res.errors).toBeUndefined();
      const id = res.data!.startPretraining.id as string;
      const job = await waitFor('the ALS job to end', async () => {
        const j = (await gql(fx, `{ job(id: "${id}") { status error model { id config } } }`, { key: fx.keys.admin })).data!.job;
        return ['CANCELLED', 'FAILED', 'SUCCEEDED'].includes(j.status) ? j : undefined;
      }, 120_000);
      expect(job.error).toBeNull();
      expect(job.status).toBe('SUCCEEDED');
      expect(job.model.config.model).toMatchObject({ objective: 'implicit-als', layers: [], alsAlpha: 1, alsRegularization: 10 });
    }, 180_000);

    it('startPretraining takes auto and budget with the checks of graft train --auto', async () => {
      const bad = await gql(fx, `mutation { startPretraining(input: { domain: "source", auto: true, budget: "lots" }) { id } }`, { key: fx.keys.admin });
      expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
      expect(bad.errors![0]!.message).toMatch(/budget "lots" is neither a number of trials/);
      const without = await gql(fx, `mutation { startPretraining(input: { domain: "source", budget: "3" }) { id } }`, { key: fx.keys.admin });
      expect(codes(without)).toEqual(['BAD_USER_INPUT']);
      expect(without.errors![0]!.message).toMatch(/budget = "3" applies with auto only/);
    });

    it('cancelJob stops a running job: CANCELLED, no model', async () => {
      const res = await gql(fx, `mutation { startPretraining(input: { domain: "source", epochs: 500, dim: 8, layers: [16] }) { id status } }`, { key: fx.keys.admin });
      const id = res.data!.startPretraining.id as string;
      await waitFor('the job to run', async () => {
        const j = (await gql(fx, `{ job(id: "${id}") { status progress { step } } }`, { key: fx.keys.admin })).data!.job;
        return j.status === 'RUNNING' && (j.progress?.step ?? 0) > 0;
      }, 90_000);
      const cancelled = await gql(fx, `mutation { cancelJob(id: "${id}") { id status cancelRequestedAt } }`, { key: fx.keys.admin });
      expect(cancelled.errors).toBeUndefined();
      expect(cancelled.data!.cancelJob.cancelRequestedAt).not.toBeNull();
      const final = await waitFor('the job to end', async () => {
        const j = (await gql(fx, `{ job(id: "${id}") { status model { id } } }`, { key: fx.keys.admin })).data!.job;
        return ['CANCELLED', 'FAILED', 'SUCCEEDED'].includes(j.status) ? j : undefined;
      }, 60_000);
      expect(final.status).toBe('CANCELLED');
      expect(final.model).toBeNull();
    }, 180_000);

    it('a GPU job without @tensorflow/tfjs-node-gpu fails at once, saying what to install', async () => {
      if (kind === 'postgres') {
        // A CPU-only worker never takes a GPU job: it stays queued (then we cancel it).
        const res = await gql(fx, `mutation { startPretraining(input: { domain: "source", epochs: 1, device: GPU }) { id } }`, { key: fx.keys.admin });
        const id = res.data!.startPretraining.id as string;
        await new Promise((r) => setTimeout(r, 1500));
        expect((await gql(fx, `{ job(id: "${id}") { status } }`, { key: fx.keys.admin })).data!.job.status).toBe('QUEUED');
        expect((await gql(fx, `mutation { cancelJob(id: "${id}") { status } }`, { key: fx.keys.admin })).data!.cancelJob.status).toBe('CANCELLED');
        return;
      }
      const res = await gql(fx, `mutation { startPretraining(input: { domain: "source", epochs: 1, device: GPU }) { id } }`, { key: fx.keys.admin });
      const id = res.data!.startPretraining.id as string;
      const job = await waitFor('the GPU job to fail', async () => {
        const j = (await gql(fx, `{ job(id: "${id}") { status error } }`, { key: fx.keys.admin })).data!.job;
        return j.status === 'FAILED' ? j : undefined;
      }, 60_000);
      expect(job.error).toMatch(/@tensorflow\/tfjs-node-gpu/);
    }, 120_000);
  });
}
