// The first page's bundle budget: what a browser downloads to show it (index.html and
// every script and stylesheet it names), gzipped as the server sends it, <= 250 kB.
// Reads the production build npm test makes before jest (apps/ui/dist).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const DIST = path.resolve(__dirname, '..', 'dist');
const BUDGET_BYTES = 250 * 1000;

test('the first page downloads at most 250 kB gzipped, and every file it names exists', () => {
  const index = path.join(DIST, 'index.html');
  if (!existsSync(index)) throw new Error(`${index} is missing: npm test builds it before jest (or run npm run build -w @larder/ui)`);
  const html = readFileSync(index, 'utf8');
  const named = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
  expect(named.filter((f) => f.endsWith('.js'))).toHaveLength(1);
  expect(named.filter((f) => f.endsWith('.css'))).toHaveLength(1);
  let total = gzipSync(html).length;
  for (const file of named) {
    const full = path.join(DIST, file);
    expect([file, existsSync(full)]).toEqual([file, true]);
    total += gzipSync(readFileSync(full)).length;
  }
  // Budget, and a sign the minified production build is what was measured.
  expect(total).toBeLessThanOrEqual(BUDGET_BYTES);
  expect(
    readFileSync(
      path.join(
        DIST,
        named.find((f) => f.endsWith('.js'))!,
      ),
      'utf8',
    ),
  ).not.toMatch(/\n {2}\S/);
});
