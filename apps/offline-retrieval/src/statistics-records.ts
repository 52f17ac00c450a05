// Where computed statistics are kept, with their scope and time range, for later
// comparison (drift) and for the UI. Headers stay in memory (small); bodies on disk.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { clone, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { statisticsV1 } from '@larder/proto';

export interface RecordFilter {
  project: string;
  objectName: string;
  /** [start, end) in ms, or undefined for all. */
  overlaps: { start: number; end: number } | undefined;
}

/** The scope's object name and time range [start, end) in ms (none for a saved dataset). */
export function scopeKey(scope: statisticsV1.StatisticsScope): { objectName: string; range: { start: number; end: number } | undefined } {
  const kind = scope.kind;
  const range = (r: statisticsV1.TimeRange | undefined) => (r?.start && r.end ? { start: timestampMs(r.start), end: timestampMs(r.end) } : undefined);
  switch (kind.case) {
    case 'featureView':
      return { objectName: kind.value.featureView, range: range(kind.value.eventTime) };
    case 'featureService':
      return { objectName: kind.value.featureService, range: range(kind.value.eventTime) };
    case 'savedDataset':
      return { objectName: kind.value.savedDataset, range: undefined };
    case 'ingested':
      return { objectName: kind.value.featureView, range: range(kind.value.createdTime) };
    case 'materialized':
      return { objectName: kind.value.featureView, range: range(kind.value.eventTime) };
    default:
      return { objectName: '', range: undefined };
  }
}

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Records in a folder, one `<id>.binpb` (a StatisticsRecord) each, or in memory when no
 * folder is configured. Ids are ours (UUIDs); a client's id is matched against the
 * pattern before it comes near a path.
 */
export class StatisticsRecords {
  private readonly headers: statisticsV1.StatisticsRecord[] = [];
  private readonly bodies = new Map<string, statisticsV1.StatisticsRecord>();

  private constructor(private readonly directory: string | undefined) {}

  static async open(directory: string): Promise<StatisticsRecords> {
    const records = new StatisticsRecords(directory === '' ? undefined : directory);
    if (directory === '') return records;
    mkdirSync(directory, { recursive: true });
    for (const name of readdirSync(directory)) {
      if (!name.endsWith('.binpb') || !ID.test(name.slice(0, -6))) continue;
      const record = fromBinary(statisticsV1.StatisticsRecordSchema, await readFile(path.join(directory, name)));
      records.headers.push(headerOf(record));
    }
    records.headers.sort(newestFirst);
    return records;
  }

  async save(record: statisticsV1.StatisticsRecord): Promise<statisticsV1.StatisticsRecord> {
    const stored = clone(statisticsV1.StatisticsRecordSchema, record);
    stored.id = randomUUID();
    if (this.directory !== undefined) {
      const file = path.join(this.directory, `${stored.id}.binpb`);
      await writeFile(`${file}.tmp`, toBinary(statisticsV1.StatisticsRecordSchema, stored));
      await rename(`${file}.tmp`, file);
    } else {
      this.bodies.set(stored.id, stored);
    }
    this.headers.push(headerOf(stored));
    this.headers.sort(newestFirst);
    return stored;
  }

  async get(project: string, id: string): Promise<statisticsV1.StatisticsRecord | undefined> {
    if (!ID.test(id)) return undefined;
    const header = this.headers.find((h) => h.id === id && h.scope?.project === project);
    if (header === undefined) return undefined;
    if (this.directory === undefined) return this.bodies.get(id);
    const file = path.join(this.directory, `${id}.binpb`);
    return existsSync(file) ? fromBinary(statisticsV1.StatisticsRecordSchema, await readFile(file)) : undefined;
  }

  /** Matching headers, newest first, from offset; at most limit. */
  list(filter: RecordFilter, offset: number, limit: number): { records: statisticsV1.StatisticsRecord[]; more: boolean } {
    const matching = this.headers.filter((h) => {
      if (h.scope?.project !== filter.project) return false;
      const key = scopeKey(h.scope);
      if (filter.objectName !== '' && key.objectName !== filter.objectName) return false;
      if (filter.overlaps && key.range && (key.range.end <= filter.overlaps.start || key.range.start >= filter.overlaps.end)) return false;
      return true;
    });
    return { records: matching.slice(offset, offset + limit), more: matching.length > offset + limit };
  }
}

function headerOf(record: statisticsV1.StatisticsRecord): statisticsV1.StatisticsRecord {
  const header = clone(statisticsV1.StatisticsRecordSchema, record);
  delete header.statistics;
  return header;
}

function newestFirst(a: statisticsV1.StatisticsRecord, b: statisticsV1.StatisticsRecord): number {
  return (b.computedAt ? timestampMs(b.computedAt) : 0) - (a.computedAt ? timestampMs(a.computedAt) : 0);
}
