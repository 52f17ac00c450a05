import { homedir } from 'node:os';
import path from 'node:path';

/** Where downloads are kept between runs (outside git): $LARDER_CACHE_DIR or ~/.cache/larder. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['LARDER_CACHE_DIR'] ?? path.join(homedir(), '.cache', 'larder');
}
