import { testServices } from '@larder/testing';
import { bigqueryEngine, duckdbEngine, postgresEngine } from './engines';
import type { EngineUnderTest } from './engines';

/** The engines every behavioural test runs against: DuckDB, and the PostgreSQL and BigQuery emulator `npm test` started. */
export function allEngines(): { name: string; start: () => Promise<EngineUnderTest> }[] {
  const services = testServices();
  return [
    { name: 'duckdb', start: duckdbEngine },
    { name: 'postgres', start: () => postgresEngine(services.postgres.url) },
    { name: 'bigquery', start: () => bigqueryEngine(services.bigquery.endpoint, services.bigquery.projectId) },
  ];
}
