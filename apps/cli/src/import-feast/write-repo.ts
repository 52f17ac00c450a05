// Writes an imported Feast project as a Larder feature repo: larder.yaml and one
// definitions file. An existing repo is never overwritten without --force.
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import type { ImportedRepo } from './to-repo';

export const DEFINITIONS_FILE = 'feast_import.yaml';

export interface RepoSettings {
  /** A Redis URL: the online store in Feast's layout, where Feast materialized. */
  redisUrl?: string | undefined;
}

export class RepoExistsError extends Error {
  override readonly name = 'RepoExistsError';
}

/** The larder.yaml text. */
export function larderYaml(repo: ImportedRepo, settings: RepoSettings): string {
  const lines = [
    `# Imported from a Feast registry by larder import-feast. The project name is Feast's,`,
    `# so the feast Redis layout (keys end with the project) serves what Feast materialized.`,
    `project: ${JSON.stringify(repo.project)}`,
    'registry:',
    '  path: data/registry.db',
  ];
  if (settings.redisUrl !== undefined) lines.push('online_store:', '  type: redis', `  url: ${JSON.stringify(settings.redisUrl)}`, '  layout: feast');
  else
    lines.push(
      '# online_store: { type: redis, url: redis://host:6379, layout: feast }   # to read what Feast materialized',
      'online_store:',
      '  type: sqlite',
      '  path: data/online_store.db',
    );
  lines.push('offline_store:', '  type: duckdb', '');
  return lines.join('\n');
}

/** The definitions file: one YAML document per object, comments above those needing work. */
export function definitionsYaml(repo: ImportedRepo): string {
  const parts = repo.documents.map((doc) => {
    const comment = repo.comments.get(`${doc.kind}/${String(doc.name)}`);
    const body = stringify(doc, { lineWidth: 0 });
    return comment === undefined
      ? body
      : `${comment
          .split('\n')
          .map((l) => `# ${l}`.trimEnd())
          .join('\n')}\n${body}`;
  });
  return `${parts.join('---\n')}`;
}

/** Writes the repo into `dir`; refuses a folder holding a feature repo or the file it would write, unless `force`. */
export async function writeRepo(dir: string, repo: ImportedRepo, settings: RepoSettings, force: boolean): Promise<string[]> {
  const files = { 'larder.yaml': larderYaml(repo, settings), [DEFINITIONS_FILE]: definitionsYaml(repo) };
  if (!force && existsSync(dir)) {
    const present = Object.keys(files).filter((f) => existsSync(path.join(dir, f)));
    const entries = await readdir(dir).catch(() => [] as string[]);
    if (present.length > 0)
      throw new RepoExistsError(
        `${path.join(dir, present[0] as string)} exists: ${dir} already holds a feature repo; pass --force to overwrite ${present.join(' and ')}, or name another folder`,
      );
    if (entries.some((e) => e.endsWith('.yaml') || e.endsWith('.yml') || e.endsWith('.ts'))) {
      throw new RepoExistsError(
        `${dir} holds definition files (${entries.filter((e) => /\.(ya?ml|ts)$/.test(e)).join(', ')}) that would become part of the imported repo; use an empty folder, or pass --force`,
      );
    }
  }
  await mkdir(path.join(dir, 'data'), { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return Object.keys(files);
}
