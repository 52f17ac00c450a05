// `npm run proto:check`: lint, stale generated code, and breaking changes
// against the previous commit. Exits 1 on any failure.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buf, repoRoot } from './buf';

const genDir = 'libs/proto/src/gen';

function lint(): boolean {
  console.log('buf lint');
  try {
    buf(['lint']);
    return true;
  } catch {
    return false;
  }
}

function listFiles(root: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  if (!fs.existsSync(root)) return files;
  for (const entry of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files.set(path.relative(root, full).split(path.sep).join('/'), fs.readFileSync(full));
  }
  return files;
}

/** Paths under genDir that differ from what buf generates now, with why. */
function staleFiles(committed: Map<string, Buffer>, fresh: Map<string, Buffer>): string[] {
  const stale: string[] = [];
  for (const [file, bytes] of fresh) {
    const current = committed.get(file);
    if (current === undefined) stale.push(`${file} (missing)`);
    else if (!current.equals(bytes)) stale.push(`${file} (out of date)`);
  }
  for (const file of committed.keys()) {
    if (!fresh.has(file)) stale.push(`${file} (no longer generated)`);
  }
  return stale.sort();
}

function generatedIsFresh(): boolean {
  console.log(`buf generate (into a temporary folder, compared with ${genDir})`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'larder-proto-'));
  try {
    buf(['generate', '--output', tmp]);
    const stale = staleFiles(listFiles(path.join(repoRoot, genDir)), listFiles(path.join(tmp, genDir)));
    if (stale.length === 0) return true;
    console.error(`${genDir} is stale; run \`npm run proto\`. Files:`);
    for (const line of stale) console.error(`  ${genDir}/${line}`);
    return false;
  } catch {
    return false;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/**
 * The commit to compare against: HEAD when proto/ has uncommitted changes
 * (you are editing on top of main), else HEAD~1 (CI checking the commit it
 * just built). Undefined, with the reason, when there is no such commit or it
 * has no proto/ folder.
 */
function breakingBase(): { sha: string } | { skip: string } {
  if (git(['rev-parse', '--is-inside-work-tree']) !== 'true') return { skip: 'not a git work tree' };
  const dirty = (git(['status', '--porcelain', '--', 'proto']) ?? '') !== '';
  const rev = dirty ? 'HEAD' : 'HEAD~1';
  const sha = git(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
  if (sha === undefined || sha === '') {
    return { skip: `no commit ${rev} (first commit, or a shallow clone: fetch with --depth 2 or more)` };
  }
  if (git(['ls-tree', '-d', '--name-only', sha, 'proto']) !== 'proto') {
    return { skip: `${rev} (${sha.slice(0, 12)}) has no proto/ folder` };
  }
  return { sha };
}

function notBreaking(): boolean {
  const base = breakingBase();
  if ('skip' in base) {
    console.log(`buf breaking: skipped, ${base.skip}`);
    return true;
  }
  // The common dir, so that this also works from a linked worktree.
  const gitDir = git(['rev-parse', '--path-format=absolute', '--git-common-dir']);
  if (gitDir === undefined) {
    console.log('buf breaking: skipped, git directory not found');
    return true;
  }
  console.log(`buf breaking --against ${base.sha.slice(0, 12)}`);
  try {
    buf(['breaking', '--against', `${gitDir}#format=git,ref=${base.sha}`]);
    return true;
  } catch {
    return false;
  }
}

function main(): void {
  // Run every check, so one run reports every problem.
  const results = [lint(), generatedIsFresh(), notBreaking()];
  if (results.includes(false)) {
    console.error('proto:check failed');
    process.exit(1);
  }
  console.log('proto:check passed');
}

main();
