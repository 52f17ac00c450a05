// The registry service's definition (configuration, handlers, access checks, watch
// streams), as a lib so that everything running a registry imports it the same way:
// apps/registry's main, npm start, apps/e2e, the benchmarks, and the tests of other
// services that need a real registry in-process (apps never import another app).
export { registryService } from './service';
