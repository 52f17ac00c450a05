import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import type { RegistrySet } from '@larder/core';
import { registryV1 } from '@larder/proto';
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { planApply, planDelete, planDeleteProject, snapshotOf } from './apply-plan';
import type { Plan } from './apply-plan';
import { notFound, versionMismatch } from './errors';
import { decodeRegistry, encodeRegistry } from './file-codec';
import { acquireFileLock, removeStaleTempFiles, writeFileAtomically } from './file-io';
import { ChangeFeed } from './change-feed';
import type { ObjectKindInProject, ObjectOf } from './kinds';
import { checkMaterializationUpdate, mergeMaterializationState } from './materialization';
import { toRegistrySet } from './project-objects';
import type { ProjectObjects } from './project-objects';
import { filterObjects, findObject, sortByName, statesFor } from './queries';
import { DEFAULT_LOG_LIMITS, appendToLog, committedEntry, emptyRegistry, replayFrom } from './registry-data';
import type { LogLimits, RegistryData } from './registry-data';
import { matchesFilter } from '@larder/core';
import type { ChangeListener, RegistryStore, VersionInfo, Versioned } from './registry-store';

export interface FileRegistryStoreOptions {
  logLimits?: LogLimits;
  /** How long a write waits for another process's lock before ABORTED. */
  lockTimeoutMs?: number;
  /** Follow writes by other processes with fs.watch (default true). */
  watch?: boolean;
}

/**
 * The embedded registry: one JSON file, replaced atomically (temp file,
 * fsync, rename, fsync of the folder) so a crash mid-write leaves the
 * previous registry. Writers in several processes take a lock file; each
 * instance re-reads the file when another process replaced it, and reports
 * those versions to its subscribers.
 */
export class FileRegistryStore implements RegistryStore {
  readonly location: string;
  private data: RegistryData = emptyRegistry();
  private fileStamp = '';
  private readonly feed = new ChangeFeed();
  private writes: Promise<unknown> = Promise.resolve();
  private refreshing: Promise<void> | undefined;
  private lastPublished = 0n;
  private watcher: FSWatcher | undefined;
  private readonly logLimits: LogLimits;
  private readonly lockTimeoutMs: number;

  private constructor(
    readonly file: string,
    options: FileRegistryStoreOptions,
  ) {
    this.location = `file:${file}`;
    this.logLimits = options.logLimits ?? DEFAULT_LOG_LIMITS;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
  }

  static async open(file: string, options: FileRegistryStoreOptions = {}): Promise<FileRegistryStore> {
    const store = new FileRegistryStore(path.resolve(file), options);
    await mkdir(path.dirname(store.file), { recursive: true });
    await removeStaleTempFiles(store.file);
    await store.refresh();
    store.lastPublished = store.data.version;
    if (options.watch ?? true) store.follow();
    return store;
  }

  async apply(req: registryV1.ApplyRegistryRequest): Promise<registryV1.ApplyRegistryResponse> {
    return this.write((data, commit) => {
      if (req.expectedVersion !== undefined && req.expectedVersion !== data.version) throw versionMismatch(req.expectedVersion, data.version);
      const plan = planApply(data.projects.get(req.project), req, commit);
      const applied = !req.planOnly && plan.changes.length > 0;
      const response = create(registryV1.ApplyRegistryResponseSchema, { version: applied ? commit.version : data.version, diffs: plan.diffs, applied });
      return { plan: applied ? plan : undefined, project: req.project, response };
    });
  }

  async version(): Promise<VersionInfo> {
    await this.refresh();
    return { version: this.data.version, updatedTime: this.data.updatedTime };
  }

  async getProject(name: string): Promise<Versioned<registryV1.Project>> {
    await this.refresh();
    const p = this.data.projects.get(name);
    if (p === undefined) throw notFound(registryV1.ObjectKind.PROJECT, name);
    return { value: p.project, version: this.data.version };
  }

  async listProjects(filter?: registryV1.ObjectFilter): Promise<Versioned<registryV1.Project[]>> {
    await this.refresh();
    const all = [...this.data.projects.values()].map((p) => p.project);
    return { value: sortByName(filter === undefined ? all : all.filter((p) => matchesFilter(p, filter))), version: this.data.version };
  }

  async deleteProject(name: string, expectedVersion?: bigint): Promise<bigint> {
    return this.write((data, commit) => {
      if (expectedVersion !== undefined && expectedVersion !== data.version) throw versionMismatch(expectedVersion, data.version);
      return { plan: planDeleteProject(data.projects.get(name), name), project: name, response: commit.version };
    });
  }

  async getObject<K extends ObjectKindInProject>(kind: K, project: string, name: string): Promise<Versioned<ObjectOf<K>>> {
    await this.refresh();
    return { value: findObject(this.data.projects.get(project), kind, project, name), version: this.data.version };
  }

  async listObjects<K extends ObjectKindInProject>(kind: K, project: string, filter?: registryV1.ObjectFilter): Promise<Versioned<ObjectOf<K>[]>> {
    await this.refresh();
    return { value: filterObjects(this.data.projects.get(project), kind, project, filter), version: this.data.version };
  }

  async deleteObject(kind: ObjectKindInProject, project: string, name: string, expectedVersion?: bigint): Promise<bigint> {
    return this.write((data, commit) => {
      if (expectedVersion !== undefined && expectedVersion !== data.version) throw versionMismatch(expectedVersion, data.version);
      return { plan: planDelete(data.projects.get(project), project, kind, name), project, response: commit.version };
    });
  }

  async registrySets(project?: string): Promise<Versioned<RegistrySet[]>> {
    await this.refresh();
    return { value: this.selectProjects(project).map(toRegistrySet), version: this.data.version };
  }

  async snapshot(project?: string): Promise<registryV1.WatchRegistryResponse> {
    await this.refresh();
    return snapshotOf(this.selectProjects(project), this.data.version);
  }

  async changesSince(version: bigint): Promise<registryV1.WatchRegistryResponse[] | undefined> {
    await this.refresh();
    return replayFrom(this.data.log, this.data.version, version);
  }

  subscribe(listener: ChangeListener): () => void {
    return this.feed.subscribe(listener);
  }

  async getMaterializationState(project: string, views?: readonly string[]): Promise<registryV1.MaterializationState[]> {
    await this.refresh();
    const stored = this.data.materialization.get(project);
    return statesFor(this.data.projects.get(project), project, views, (view) => stored?.get(view));
  }

  async updateMaterializationState(req: registryV1.UpdateMaterializationStateRequest): Promise<registryV1.MaterializationState> {
    checkMaterializationUpdate(req);
    return this.serialized(async () => {
      const lock = await acquireFileLock(this.file, this.lockTimeoutMs);
      try {
        await this.reload();
        findObject(this.data.projects.get(req.project), registryV1.ObjectKind.FEATURE_VIEW, req.project, req.featureView);
        const states = new Map(this.data.materialization.get(req.project));
        const state = mergeMaterializationState(states.get(req.featureView), req, timestampNow());
        states.set(req.featureView, state);
        const next: RegistryData = { ...this.data, materialization: new Map(this.data.materialization).set(req.project, states) };
        await this.persist(next);
        return state;
      } finally {
        await lock.release();
      }
    });
  }

  async close(): Promise<void> {
    this.watcher?.close();
    this.watcher = undefined;
    await this.writes.catch(() => undefined);
    this.feed.close();
  }

  private selectProjects(project: string | undefined): ProjectObjects[] {
    if (project === undefined || project === '') return [...this.data.projects.values()];
    const p = this.data.projects.get(project);
    if (p === undefined) throw notFound(registryV1.ObjectKind.PROJECT, project);
    return [p];
  }

  /**
   * One write: under the in-process queue and the cross-process lock, on the
   * file's latest content, commit what `decide` plans (if anything), then
   * tell subscribers.
   */
  private write<R>(
    decide: (data: RegistryData, commit: { version: bigint; now: ReturnType<typeof timestampNow> }) => { plan: Plan | undefined; project: string; response: R },
  ): Promise<R> {
    return this.serialized(async () => {
      const lock = await acquireFileLock(this.file, this.lockTimeoutMs);
      let published: registryV1.WatchRegistryResponse | undefined;
      let response: R;
      try {
        await this.reload();
        const commit = { version: this.data.version + 1n, now: timestampNow() };
        const decided = decide(this.data, commit);
        response = decided.response;
        const plan = decided.plan;
        if (plan !== undefined && plan.changes.length > 0) {
          published = committedEntry(commit.version, plan.changes);
          const next = applyPlan(this.data, decided.project, plan, commit, published, this.logLimits);
          await this.persist(next);
        }
      } finally {
        await lock.release();
      }
      if (published !== undefined) this.publish(published);
      return response;
    });
  }

  private serialized<R>(task: () => Promise<R>): Promise<R> {
    const run = this.writes.then(task, task);
    this.writes = run.catch(() => undefined);
    return run;
  }

  private async persist(next: RegistryData): Promise<void> {
    await writeFileAtomically(this.file, encodeRegistry(next));
    this.data = next;
    this.fileStamp = await this.currentStamp();
  }

  private async currentStamp(): Promise<string> {
    try {
      const s = await stat(this.file, { bigint: true });
      return `${s.ino}:${s.size}:${s.mtimeNs}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw error;
    }
  }

  /**
   * Re-reads the file when another process replaced it. Queued behind this
   * instance's writes, so a read sees them and never an older file; callers
   * waiting at the same time share one read.
   */
  private refresh(): Promise<void> {
    this.refreshing ??= this.serialized(async () => {
      this.refreshing = undefined;
      await this.reload();
    });
    return this.refreshing;
  }

  /** Publishes each version once, in order, whoever noticed it first. */
  private publish(entry: registryV1.WatchRegistryResponse): void {
    if (entry.version <= this.lastPublished) return;
    this.lastPublished = entry.version;
    this.feed.publish(entry);
  }

  private async reload(): Promise<void> {
    const stampBefore = await this.currentStamp();
    if (stampBefore === this.fileStamp) return;
    const next = stampBefore === '' ? emptyRegistry() : decodeRegistry(await readFile(this.file, 'utf8'), this.file);
    const previous = this.data;
    this.data = next;
    this.fileStamp = stampBefore;
    if (next.version === previous.version) return;
    if (next.version < previous.version) {
      // The file was replaced by an older or a new registry: watchers start over.
      this.lastPublished = next.version;
      this.feed.publish(snapshotOf(next.projects.values(), next.version));
      return;
    }
    // Versions another process committed: replay them if the log reaches back, else a snapshot.
    const replay = replayFrom(next.log, next.version, previous.version);
    if (replay === undefined) this.publish(snapshotOf(next.projects.values(), next.version));
    else for (const entry of replay) this.publish(entry);
  }

  private follow(): void {
    const base = path.basename(this.file);
    this.watcher = watch(path.dirname(this.file), { persistent: false }, (_event, filename) => {
      if (filename === base) void this.refresh().catch(() => undefined);
    });
    this.watcher.on('error', () => undefined);
  }
}

function applyPlan(
  data: RegistryData,
  project: string,
  plan: Plan,
  commit: { version: bigint; now: ReturnType<typeof timestampNow> },
  entry: registryV1.WatchRegistryResponse,
  limits: LogLimits,
): RegistryData {
  const projects = new Map(data.projects);
  if (plan.after === undefined) projects.delete(project);
  else projects.set(project, plan.after);
  const materialization = new Map(data.materialization);
  if (plan.after === undefined) materialization.delete(project);
  else if (plan.removedViews.length > 0 && materialization.has(project)) {
    const states = new Map(materialization.get(project));
    for (const view of plan.removedViews) states.delete(view);
    materialization.set(project, states);
  }
  return { version: commit.version, updatedTime: commit.now, projects, materialization, log: appendToLog(data.log, entry, limits) };
}
