import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { registryV1, type tfmdV0 } from '@larder/proto';
import { schemaToText } from '@larder/validation';
import { FeatureRepoError } from './errors';
import { loadFeatureRepo } from './load';

export interface AdoptSchemaResult {
  /** The schema file written, relative to the repo root. */
  schemaFile: string;
  /** The definition file defining the view, relative to the repo root. */
  definitionFile: string;
  /** Whether the definition now points at the schema file (YAML); false for a TypeScript definition, see `hint`. */
  linked: boolean;
  /** For a TypeScript definition: what to add to its defineFeatureView call. */
  hint?: string;
}

/**
 * Writes a view's TFDV schema into the feature repo: the schema as
 * `schemas/<view>.pbtxt` (text format, what TFDV reads and writes), and, when
 * the view is defined in YAML, `validation.schema_file` pointing at it in that
 * document, comments and layout of the rest of the file kept. A TypeScript
 * definition is code we do not rewrite: the result says what line to add.
 */
export async function adoptSchema(
  repoPath: string,
  viewName: string,
  schema: tfmdV0.Schema,
  options: { schemaFile?: string } = {},
): Promise<AdoptSchemaResult> {
  const { sources } = await loadFeatureRepo(repoPath);
  const origin = sources.get(registryV1.ObjectKind.FEATURE_VIEW, viewName);
  if (origin === undefined) throw new Error(`the feature repo at ${repoPath} defines no feature view '${viewName}'`);
  const schemaFile = options.schemaFile ?? path.posix.join('schemas', `${viewName}.pbtxt`);
  const absolute = path.resolve(repoPath, schemaFile);
  const relative = path.relative(path.resolve(repoPath), absolute);
  if (relative.startsWith('..') || path.isAbsolute(relative)) throw new Error(`the schema file must be inside the repo: ${schemaFile}`);
  mkdirSync(path.dirname(absolute), { recursive: true });
  writeFileSync(absolute, schemaToText(schema));

  if (origin.form === 'ts') {
    return {
      schemaFile,
      definitionFile: origin.file,
      linked: false,
      hint:
        `${origin.file}:${origin.line}: add  validation: { schema: readFileSync(path.join(__dirname, ` +
        `'${path.posix.relative(path.posix.dirname(origin.file), schemaFile)}'), 'utf8') }  to defineFeatureView({ ` +
        `name: '${viewName}', ... })`,
    };
  }
  const file = path.join(repoPath, origin.file);
  const text = readFileSync(file, 'utf8');
  const documents = parseAllDocuments(text);
  const docs = Array.isArray(documents) ? documents : [documents];
  const target = docs.find((d) => d.get('kind') === 'FeatureView' && d.get('name') === viewName);
  if (target === undefined)
    throw new FeatureRepoError(repoPath, [{ file: origin.file, line: 1, column: 1, key: '', message: `feature view '${viewName}' is no longer in this file` }]);
  if (target.hasIn(['validation', 'schema'])) target.deleteIn(['validation', 'schema']);
  // Relative to the repo root, as file-source paths are.
  target.setIn(['validation', 'schema_file'], schemaFile.split(path.sep).join('/'));
  // Only the view's own document is re-printed; the other documents keep their text exactly.
  const contents = target.contents as { range?: [number, number, number] } | null;
  const [start, , end] = contents?.range ?? [0, 0, text.length];
  // The document's own comments lie outside that range and stay where they are.
  target.commentBefore = null;
  target.comment = null;
  const printed = target.toString({ lineWidth: 0, flowCollectionPadding: false, directives: false });
  const body = printed.replace(/^---\n/, '');
  writeFileSync(file, `${text.slice(0, start)}${body}${text.slice(end)}`);
  return { schemaFile, definitionFile: origin.file, linked: true };
}
