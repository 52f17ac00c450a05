// The registry app's public surface: its service definition, for what runs the service
// in-process (npm start, apps/e2e, the benchmarks, and other apps' tests that need a real
// registry: eslint.config.mjs allows those to import it).
export { registryService } from './service';
