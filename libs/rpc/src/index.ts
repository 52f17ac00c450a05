// @larder/rpc: gRPC plumbing shared by every Larder service.

export { Code, codeName } from './code';
export type { CodeName } from './code';
export { capStatusMessage, MAX_STATUS_MESSAGE_BYTES, RpcError } from './rpc-error';
export { ErrorMappings } from './error-mappings';
export type { RpcErrorOptions } from './rpc-error';

export { serviceDefinition, methodDefinition, methodPath } from './adapter/definition';
export { serviceHandlers } from './adapter/server-adapter';
export type { ServerRuntime, CallGate } from './adapter/server-adapter';
export { implement } from './adapter/types';
export type {
  AnyHandler,
  BidiStreamingHandler,
  CallInfo,
  ClientStreamingHandler,
  HandlerContext,
  HandlerFor,
  MethodKind,
  ServerInterceptor,
  ServerStreamingHandler,
  ServiceImpl,
  ResponseEncoders,
  ResponseDecoders,
  RequestDecoders,
  ServiceRegistration,
  UnaryHandler,
} from './adapter/types';
export { createClient } from './adapter/client';
export type { ClientMethod, ClientOptions, RpcCallOptions, RpcClient } from './adapter/client';

export { observeCalls } from './observe';
export { HealthRegistry, ServingStatus } from './health';
export { DescriptorIndex, reflectionV1Impl, reflectionV1alphaImpl } from './reflection';
export { RpcMetrics, startMetricsEndpoint } from './metrics';
export type { MetricsEndpoint, MetricsEndpointOptions, MetricsGuard, MetricsRefusal, RpcLabels } from './metrics';

export { createLogger, silentLogger, LOG_LEVELS } from './logger';
export type { LogFields, Logger, LoggerOptions, LogLevel } from './logger';

// Configuration is @larder/config's, re-exported so a service's schema and its server keys
// (serverConfigSchema below) come from one import.
export {
  bool,
  duration,
  int,
  oneOf,
  string,
  stringList,
  ConfigKey,
  loadConfig,
  ConfigError,
  formatConfigIssue,
  formatDurationMs,
  parseDurationMs,
} from '@larder/config';
export type { ConfigOf, ConfigOverrides, ConfigSchema, Parsed, ConfigPreset, LoadConfigOptions, ConfigIssue } from '@larder/config';

export { serverConfigSchema } from './server-config';
export type { ServerConfig, ServerConfigSchema } from './server-config';
export { startServer } from './server';
export type { BoundGrpcPort, ExtraGrpcPort, Hook, LifecycleState, ServerHandle, ShutdownResult, StartServerOptions } from './server';
export { runService } from './run-service';
export { SERVICE_NODE_FLAGS } from './node-flags';
export type { RunServiceOptions, ServiceContext, ServiceSetup } from './run-service';
export { bindHost } from './server-config';
export { dialHost, hostPort, listen } from './http/listen';
export type { Listening } from './http/listen';
export { createLimitedServer, discardRefusedBody, httpLimitsSchema, HttpBodyError, readJsonBody } from './http/body';
export type { HttpLimits } from './http/body';
export { createHttpListener } from './http/listener';
export type { HttpListener, HttpListenerOptions } from './http/listener';
export { ServerTls, TLS_HANDSHAKE_TIMEOUT_MS } from './tls/server-tls';
export type { ServerTlsConfig } from './tls/server-tls';
export { peerCertificateOf, toPeerCertificate } from './tls/peer-certificate';
export type { PeerCertificate } from './tls/peer-certificate';
export { clientTlsCredentials } from './tls/client-tls';
export type { ClientTlsOptions } from './tls/client-tls';
export { bearerTokenInterceptor, staticToken, tokenFromFile } from './tls/bearer-token';
export type { TokenSource } from './tls/bearer-token';
export { clientSecurityFromConfig } from './tls/client-config';
export type { ClientConfig, ClientSecurity } from './tls/client-config';
export { DEFAULT_TLS_POLL_MS } from './tls/pem-files';
