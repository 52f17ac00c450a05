export { testServices, serviceEnvironment, SERVICE_ENV, type TestServices } from './env';
export { startTestServices, type RunningTestServices, type StartedService } from './services';
export { startRedis, type RedisOptions, type RunningRedis } from './redis';
export { startPostgres, type PostgresOptions, type RunningPostgres } from './postgres';
export { startKafka, type KafkaOptions, type RunningKafka } from './kafka';
export { startBigQueryEmulator, DEFAULT_BIGQUERY_PROJECT, type BigQueryEmulatorOptions, type RunningBigQueryEmulator } from './bigquery';
export {
  ensurePrerequisites,
  locateChromium,
  cacheDir,
  KAFKA_VERSION,
  type Prerequisites,
  type PostgresInstall,
  type KafkaInstall,
  type BigQueryEmulatorInstall,
  type Log,
} from './prerequisites';
export { freePort } from './ports';
export { Supervisor, sharedSupervisor, waitUntil, type ManagedProcess, type SpawnSpec, type ProcessOwner } from './supervisor';
export { startLarderApp, parseListening, REPO_ROOT, type LarderAppOptions, type RunningLarderApp, type AppExit } from './larder-app';
export { runLarderCli, type CliRun } from './cli';
export { runInProcess, IN_PROCESS_ENV } from './in-process';
export { rpcRejection } from './rpc-rejection';
export { probeHealth, cpuMsDuring, type HealthProbe, type ProbeResult } from './probes';
export { slowHttpClient, type SlowClientResult } from './slow-client';
export { EVERY_VALUE_CASE, type ValueInit } from './value-cases';
export { seededRandom } from './seeded-random';
export { onlineStoreUnderTest, type OnlineStoreUnderTest } from './online-store-under-test';
export { tfdvPython, locateTfdv, TFDV_REQUIREMENTS } from './tfdv';
export { ensureKubeTools, locateKubeTools, HELM_VERSION, KUBECONFORM_VERSION, KUBERNETES_VERSION, type KubeTools } from './kube-tools';
export { pythonClientPython, buildPythonClient, PYTHON_CLIENT_DIR, PYTHON_CLIENT_REQUIREMENTS, PYTHON_KUBEFLOW_REQUIREMENTS } from './python-client';
export {
  createTestCertificates,
  SecretVolume,
  type CertificateAuthority,
  type IssuedCertificate,
  type IssueOptions,
  type TestCertificates,
} from './certificates';
export { TestIssuer, type TokenOptions, type JwksBehaviour } from './test-issuer';
