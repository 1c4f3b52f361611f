import { readFileSync } from 'node:fs';
import { Kind, parse, print, type OperationDefinitionNode } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { cloneModel } from './model-clone.js';
import { gql, type ServerFixture } from './server-fixture.js';

const document = parse(readFileSync(new URL('../../examples.graphql', import.meta.url), 'utf8'));
export const exampleOperations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
const operations = exampleOperations;

/** Runs every operation of examples.graphql, in file order, against the fixture's server with an admin key. */
export function describeExamples(kind: string, fixture: () => ServerFixture): void {
  describe('every operation in examples.graphql runs', () => {
    let fx: ServerFixture;
    const vars: Record<string, unknown> = {};

    beforeAll(async () => {
      fx = fixture();
      const user = await fx.db.db
        .selectFrom('events')
        .innerJoin('domains', 'domains.id', 'events.domain_id')
        .innerJoin('users', 'users.id', 'events.user_id')
        .select('users.external_id')
        .where('domains.name', '=', 'target')
        .groupBy('users.external_id')
        .orderBy('users.external_id')
        .limit(1)
        .executeTakeFirstOrThrow();
      const items = await fx.db.db
        .selectFrom('items')
        .innerJoin('domains', 'domains.id', 'items.domain_id')
        .select(['items.external_id', 'items.tags'])
        .where('domains.name', '=', 'target')
        .orderBy('items.id')
        .limit(2)
        .execute();
      Object.assign(vars, {
        userId: user.external_id,
        domain: 'target',
        itemId: items[0]!.external_id,
        itemIds: items.map((i) => i.external_id),
        tag: items[0]!.tags[0] ?? 'none',
        spareModelId: await cloneModel(fx.db.db, fx.sourceModelId),
        spareDomain: 'source',
        keyName: `example-${kind}`,
        modelId: fx.targetModelId,
        sourceModelId: fx.sourceModelId,
      });
    });

    for (const op of operations) {
      const name = op.name!.value;
      // Subscriptions run over graphql-ws: see jobs.ts.
      if (op.operation === 'subscription') continue;
      it(name, async () => {
        const declared = (op.variableDefinitions ?? []).map((v) => v.variable.name.value);
        const variables = Object.fromEntries(declared.filter((v) => v in vars).map((v) => [v, vars[v]]));
        const res = await gql(fx, print(op), { variables, key: fx.keys.admin });
        expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
        expect(res.status).toBe(200);
        const data = res.data!;
        for (const field of Object.keys(data)) expect(data[field], field).not.toBeNull();
        // Later operations use what earlier ones returned.
        if (name === 'Recommendations') {
          expect(data.recommendations.edges).toHaveLength(10);
          vars.after = data.recommendations.pageInfo.endCursor;
        }
        if (name === 'RecommendationsNextPage') expect(data.recommendations.edges[0].node.rank).toBe(11);
        if (name === 'NearestNeighbors') expect(data.nearestNeighbors).toHaveLength(10);
        if (name === 'EmbeddingProjection') expect(data.embeddingProjection.points.length).toBeGreaterThan(1);
        if (name === 'ModelComparison') expect(data.modelComparison.transferReport.gains.length).toBeGreaterThan(0);
        if (name === 'TrainingCurve') expect(data.trainingCurve.series[0].points.length).toBeGreaterThan(0);
        if (name === 'CreateApiKey') vars.apiKeyId = data.createApiKey.apiKey.id;
        if (name === 'StartTransfer') vars.jobId = data.startTransfer.id;
        if (name === 'CancelJob') expect(['CANCELLED', 'RUNNING']).toContain(data.cancelJob.status);
        if (name === 'ActivateModel') expect(data.activateModel.model.status).toBe('ACTIVE');
        if (name === 'RollbackModel') expect(data.rollbackModel.model.id).toBe(fx.sourceModelId);
        if (name === 'RetireModel') expect(data.retireModel.status).toBe('RETIRED');
        if (name === 'RevokeApiKey') expect(data.revokeApiKey.revokedAt).not.toBeNull();
      });
    }
  });
}
