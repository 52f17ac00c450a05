/**
 * Node flags every service runs with: the Docker image's entrypoint, `npm start` and the
 * benchmarks' service processes all pass them (apps/e2e checks the first two).
 *
 * --max-semi-space-size=64 (MB; Node 20 defaults to 16): a young-generation collection
 * costs what survives it, not the size of the space, so a larger space means the same
 * ~1 ms pauses four times less often. At one call in flight, a 1 x 50 online read came
 * every 150-200 calls to such a pause, which set its p99 (1.35-1.41 ms over three 10 s
 * runs); with the larger space the pauses fall below the 99th percentile (0.78-0.98 ms).
 * The cost is up to 2 x 48 MB more of young generation per process, used only under load.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];
