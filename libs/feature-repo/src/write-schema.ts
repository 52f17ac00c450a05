// Regenerates the committed JSON Schema: `npx tsx libs/feature-repo/src/write-schema.ts`.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { SCHEMA_FILE, definitionsJsonSchemaText } from './json-schema';

const target = path.resolve(__dirname, '../../..', SCHEMA_FILE);
writeFileSync(target, definitionsJsonSchemaText());
console.log(`wrote ${target}`);
