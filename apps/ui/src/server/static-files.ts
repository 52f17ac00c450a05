import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export interface StaticFile {
  body: Buffer;
  gzip: Buffer;
  type: string;
  /** Hashed assets never change under their name; index.html is checked each time. */
  cacheControl: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
};

/**
 * The built front end, read once at start into a table keyed by URL path. A request
 * is answered from the table or not at all: its path is never joined onto a folder,
 * so no `..`, encoded slash or symlink can reach a file outside the build.
 */
export function loadStaticFiles(distDir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (dir: string, prefix: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full, `${prefix}${entry.name}/`);
      else if (entry.isFile() && statSync(full).size < 8 * 1024 * 1024) {
        const body = readFileSync(full);
        const type = TYPES[path.extname(entry.name)] ?? 'application/octet-stream';
        const hashed = prefix === '/assets/';
        files.set(`${prefix}${entry.name}`, { body, gzip: gzipSync(body), type, cacheControl: hashed ? 'public, max-age=31536000, immutable' : 'no-cache' });
      }
    }
  };
  walk(distDir, '/');
  if (!files.has('/index.html')) throw new Error(`${distDir} holds no index.html: build the UI first (npm run build -w @larder/ui)`);
  return files;
}
