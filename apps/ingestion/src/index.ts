// The ingestion app's public surface: its service definition, for what runs the service
// in-process (npm start, apps/e2e), and the pipeline the ingest benchmark drives directly.
export { ingestionService } from './service';
export { Ingestion } from './ingestion';
export type { WatchedRegistry } from './kafka/consumers';
export type { ConsumerSettings } from './kafka/source-consumer';
