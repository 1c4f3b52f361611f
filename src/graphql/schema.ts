import 'reflect-metadata';
import { createPubSub } from '@graphql-yoga/subscription';
import type { GraphQLSchema } from 'graphql';
import { buildSchema, type NonEmptyArray } from 'type-graphql';
import { authChecker } from './auth-checker.js';
import { validateArgs } from './validate-args.js';
import { ApiKeyResolver } from './resolvers/api-key.resolver.js';
import { CatalogueResolver, DomainFieldsResolver, HistoryEventFieldsResolver, UserFieldsResolver } from './resolvers/catalogue.resolver.js';
import { EventResolver } from './resolvers/event.resolver.js';
import { ExplorerResolver, ModelComparisonFieldsResolver } from './resolvers/explorer.resolver.js';
import { JobResolver } from './resolvers/job.resolver.js';
import { ActivationFieldsResolver, ModelResolver } from './resolvers/model.resolver.js';
import {
  RecommendationReasonResolver,
  RecommendationResolver,
} from './resolvers/recommendation.resolver.js';

/** Every resolver of the API. Adapters for later features append theirs here. */
export const RESOLVERS = [
  RecommendationResolver,
  RecommendationReasonResolver,
  CatalogueResolver,
  UserFieldsResolver,
  HistoryEventFieldsResolver,
  DomainFieldsResolver,
  EventResolver,
  ModelResolver,
  ActivationFieldsResolver,
  ApiKeyResolver,
  JobResolver,
  ExplorerResolver,
  ModelComparisonFieldsResolver,
] as const;

/**
 * The GraphQL schema, built from the resolver classes.
 *
 * @example
 * const schema = await buildGraftSchema({ emitSchemaFile: 'schema.graphql' });
 */
export async function buildGraftSchema(options: { emitSchemaFile?: string } = {}): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: RESOLVERS as unknown as NonEmptyArray<Function>,
    authChecker,
    // class-validator rules on every argument, through a fast path for valid ones (validate-args.ts).
    validateFn: validateArgs,
    // Subscriptions here stream from the database (`watchJob`), not from in-process topics;
    // type-graphql still wants a PubSub to build the Subscription type.
    pubSub: createPubSub(),
    emitSchemaFile: options.emitSchemaFile ? { path: options.emitSchemaFile, sortedSchema: true } : false,
  });
}
