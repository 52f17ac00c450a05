// Harnesses that run a service with the real registry in-process, over real gRPC, for the
// service's own tests and for apps/e2e. Each is a namespace: their helpers share names
// (a repo, a harness, its options) and mean different things per service.
export * as materializationHarness from './materialization';
export * as servingHarness from './online-serving';
export * as retrievalHarness from './offline-retrieval';
