import 'reflect-metadata';
import { fileURLToPath } from 'node:url';
import { buildGraftSchema } from './schema.js';

/** `npm run schema`: writes schema.graphql at the package root from the resolver classes. */
const target = fileURLToPath(new URL('../../../schema.graphql', import.meta.url));
await buildGraftSchema({ emitSchemaFile: target });
process.stderr.write(`wrote ${target}\n`);
