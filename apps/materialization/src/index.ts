// The materialization app's public surface: its service definition, for what runs the
// service in-process (npm start, apps/e2e, the benchmarks).
export { materializationService } from './service';
