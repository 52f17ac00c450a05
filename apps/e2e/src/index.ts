// The e2e app's public surface: the hostile-client suite, which the hostile benchmark
// runs at a larger scale.
export { HOSTILE_STORE_ENV } from './hostile/attacks';
export { runHostile, summarize } from './hostile/run';
export { startHostileStore } from './hostile/store';
