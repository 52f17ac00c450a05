import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_FILE } from './config';
import { writeDriverStatsParquet, type DriverStatsDataOptions } from './sample-data';

/** The example repo `initRepo` copies. */
export const DRIVER_STATS_EXAMPLE = path.resolve(__dirname, '../../../examples/driver-stats');

export interface InitRepoOptions {
  /** Sample data options (end time, hours, drivers). */
  data?: DriverStatsDataOptions;
}

export interface InitRepoResult {
  repoPath: string;
  /** Files written, relative to repoPath. */
  files: string[];
  /** Rows in data/driver_stats.parquet. */
  sampleRows: number;
}

/**
 * Creates the driver-stats quickstart repo in `dir` (created when missing):
 * larder.yaml, the YAML definitions and data/driver_stats.parquet. Refuses to
 * overwrite an existing larder.yaml.
 */
export async function initRepo(dir: string, options: InitRepoOptions = {}): Promise<InitRepoResult> {
  const repoPath = path.resolve(dir);
  if (existsSync(path.join(repoPath, CONFIG_FILE))) {
    throw new Error(`${path.join(repoPath, CONFIG_FILE)} already exists; choose an empty directory`);
  }
  mkdirSync(repoPath, { recursive: true });
  const files: string[] = [];
  for (const entry of readdirSync(DRIVER_STATS_EXAMPLE, { withFileTypes: true })) {
    if (!entry.isFile() || !/\.(ya?ml|md)$/.test(entry.name)) continue;
    copyFileSync(path.join(DRIVER_STATS_EXAMPLE, entry.name), path.join(repoPath, entry.name));
    files.push(entry.name);
  }
  const sampleRows = await writeDriverStatsParquet(path.join(repoPath, 'data', 'driver_stats.parquet'), options.data);
  files.push('data/driver_stats.parquet');
  return { repoPath, files: files.sort(), sampleRows };
}
