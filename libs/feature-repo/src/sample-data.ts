import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

export interface DriverStatsDataOptions {
  /** The newest event time (truncated to the hour); default now. */
  end?: Date;
  /** Hours of history per driver; default 15 days. */
  hours?: number;
  /** Driver ids start here; default 1001. */
  firstDriverId?: number;
  /** Default 5. */
  drivers?: number;
}

function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * Writes the driver-stats sample Parquet file: one row per driver and hour,
 * columns event_timestamp, created (timestamptz), driver_id (int64),
 * conv_rate, acc_rate (float) and avg_daily_trips (int64). Values are derived
 * from a hash of driver and hour, so the same options give the same file.
 * Returns the number of rows written.
 */
export async function writeDriverStatsParquet(file: string, options: DriverStatsDataOptions = {}): Promise<number> {
  const end = new Date(Math.floor((options.end ?? new Date()).getTime() / 3_600_000) * 3_600_000);
  const hours = options.hours ?? 15 * 24;
  const first = options.firstDriverId ?? 1001;
  const drivers = options.drivers ?? 5;
  mkdirSync(path.dirname(file), { recursive: true });
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`SET TimeZone = 'UTC'`);
    const endSql = `TIMESTAMPTZ ${sqlString(end.toISOString())}`;
    await connection.run(`
      COPY (
        SELECT
          ${endSql} - to_hours(h) AS event_timestamp,
          ${endSql} - to_hours(h) + INTERVAL 5 MINUTE AS created,
          (${first} + d)::BIGINT AS driver_id,
          ((hash(d, h, 'conv') % 1000) / 1000.0)::FLOAT AS conv_rate,
          ((hash(d, h, 'acc') % 1000) / 1000.0)::FLOAT AS acc_rate,
          (hash(d, h, 'trips') % 1000)::BIGINT AS avg_daily_trips
        FROM range(${drivers}) AS ds(d), range(${hours}) AS hs(h)
        ORDER BY event_timestamp, driver_id
      ) TO ${sqlString(file)} (FORMAT parquet)`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  return drivers * hours;
}
