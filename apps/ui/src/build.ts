// The production build of the front end: one hashed JS bundle and one hashed CSS file
// under dist/assets, and dist/index.html naming them. `npm run build -w @larder/ui`,
// `nx build ui` (cached), and the test harness before the browser tests.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

export const UI_DIR = path.resolve(__dirname, '..');
export const DIST_DIR = path.join(UI_DIR, 'dist');

export async function buildUi(outDir = DIST_DIR): Promise<{ files: string[] }> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(path.join(outDir, 'assets'), { recursive: true });
  const result = await build({
    entryPoints: [path.join(UI_DIR, 'src/web/main.tsx')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome110', 'firefox115', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: path.join(outDir, 'assets'),
    entryNames: '[name]-[hash]',
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const outputs = Object.keys(result.metafile.outputs).map((file) => `/${path.relative(outDir, path.resolve(file)).split(path.sep).join('/')}`);
  const script = outputs.find((f) => f.endsWith('.js'));
  const style = outputs.find((f) => f.endsWith('.css'));
  if (script === undefined || style === undefined) throw new Error(`the build made no JS or CSS: ${outputs.join(', ')}`);
  writeFileSync(path.join(outDir, 'index.html'), indexHtml(script, style));
  return { files: ['/index.html', ...outputs] };
}

const indexHtml = (script: string, style: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Larder</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${style}">
<script type="module" src="${script}"></script>
</head>
<body>
<div id="app"></div>
</body>
</html>
`;

if (require.main === module) {
  buildUi().then(
    ({ files }) => process.stdout.write(`built ${files.join(', ')} in ${path.relative(process.cwd(), DIST_DIR) || DIST_DIR}\n`),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
