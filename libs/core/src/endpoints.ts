// Hosts a definition may make the services connect to. Whoever applies definitions
// chooses a Kafka source's bootstrap servers and schema registry URL; without a check the
// ingestion service would open connections wherever it is told (a metadata server, a
// database port, another tenant's broker). Operators list what is allowed; the registry
// refuses other hosts at apply and ingestion never dials them.
import type { registryV1 } from '@larder/proto';

/** Allowed endpoints, each a "host:port" pattern: host may be `*` or `*.domain`, port `*`. */
export interface EndpointAllowList {
  readonly kafkaBrokers: readonly string[];
  readonly schemaRegistries: readonly string[];
}

/** The default: this machine only, so a fresh `npm start` or test never dials elsewhere. */
export const LOOPBACK_ENDPOINTS: readonly string[] = ['localhost:*', '127.0.0.1:*', '[::1]:*'];

/** The settings' names, for the services' configuration and for messages. */
export const ENDPOINT_SETTINGS = {
  kafkaBrokers: { key: 'endpoints.kafkaBrokers', env: 'LARDER_ALLOWED_KAFKA_BROKERS', what: 'Kafka broker', plural: 'Kafka brokers' },
  schemaRegistries: { key: 'endpoints.schemaRegistries', env: 'LARDER_ALLOWED_SCHEMA_REGISTRIES', what: 'schema registry', plural: 'schema registries' },
} as const;

export const LOOPBACK_ALLOW_LIST: EndpointAllowList = { kafkaBrokers: LOOPBACK_ENDPOINTS, schemaRegistries: LOOPBACK_ENDPOINTS };

interface HostPort {
  host: string;
  port: string;
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]/@]+):(\d{1,5}|\*)$/;

function splitHostPort(text: string): HostPort | undefined {
  const match = HOST_PORT.exec(text.trim());
  if (match === null) return undefined;
  return { host: (match[1] as string).toLowerCase(), port: match[2] as string };
}

/** Why a pattern is malformed, or undefined when it is fine. */
export function endpointPatternProblem(pattern: string): string | undefined {
  const parts = splitHostPort(pattern);
  if (parts === undefined) return `${JSON.stringify(pattern)} is not host:port (host may be * or *.domain, port may be *; IPv6 in brackets)`;
  if (parts.host.includes('*') && parts.host !== '*' && !/^\*\.[^*]+$/.test(parts.host))
    return `${JSON.stringify(pattern)}: a * in the host must be the whole host or lead as *.domain`;
  return undefined;
}

function matches(pattern: HostPort, endpoint: HostPort): boolean {
  if (pattern.port !== '*' && Number(pattern.port) !== Number(endpoint.port)) return false;
  if (pattern.host === '*') return true;
  if (pattern.host.startsWith('*.')) return endpoint.host.endsWith(pattern.host.slice(1));
  return pattern.host === endpoint.host;
}

function allowed(patterns: readonly string[], endpoint: HostPort): boolean {
  return patterns.some((p) => {
    const parsed = splitHostPort(p);
    return parsed !== undefined && matches(parsed, endpoint);
  });
}

/** "host:port" of a broker address, or undefined when it is not one. */
export function brokerEndpoint(address: string): HostPort | undefined {
  const parts = splitHostPort(address);
  return parts === undefined || parts.port === '*' ? undefined : parts;
}

/** host and port of an http(s) URL (the scheme's port when none is written), or undefined. */
export function urlEndpoint(text: string): HostPort | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return { host: url.hostname.toLowerCase(), port: url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port };
}

export interface EndpointProblem {
  /** The source's field, e.g. "kind.kafka.bootstrap_servers[1]". */
  field: string;
  message: string;
}

/** Whether a broker may be dialled: the socket-level check, for brokers a cluster advertises. */
export function brokerAllowed(allow: EndpointAllowList, host: string, port: number): boolean {
  return allowed(allow.kafkaBrokers, {
    host: host.includes(':') && !host.startsWith('[') ? `[${host.toLowerCase()}]` : host.toLowerCase(),
    port: String(port),
  });
}

/** The endpoints of a data source that the allow-list does not admit, each with a message naming the setting. */
export function sourceEndpointProblems(source: registryV1.DataSource, allow: EndpointAllowList): EndpointProblem[] {
  if (source.kind.case !== 'kafka') return [];
  const kafka = source.kind.value;
  const problems: EndpointProblem[] = [];
  const refuse = (
    field: string,
    value: string,
    setting: (typeof ENDPOINT_SETTINGS)[keyof typeof ENDPOINT_SETTINGS],
    list: readonly string[],
    why: string,
  ): void => {
    problems.push({
      field,
      message: `${JSON.stringify(value.slice(0, 200))} ${why}; allowed ${setting.plural}: ${list.length === 0 ? 'none' : list.join(', ')} (set by the services' ${setting.key} / ${setting.env})`,
    });
  };
  kafka.bootstrapServers.forEach((server, i) => {
    const endpoint = brokerEndpoint(server);
    const field = `kind.kafka.bootstrap_servers[${i}]`;
    if (endpoint === undefined) refuse(field, server, ENDPOINT_SETTINGS.kafkaBrokers, allow.kafkaBrokers, 'is not host:port');
    else if (!allowed(allow.kafkaBrokers, endpoint))
      refuse(field, server, ENDPOINT_SETTINGS.kafkaBrokers, allow.kafkaBrokers, 'is not an allowed Kafka broker');
  });
  const format = kafka.messageFormat?.format;
  if (format?.case === 'avro' && format.value.schema.case === 'schemaRegistryUrl') {
    const url = format.value.schema.value;
    const endpoint = urlEndpoint(url);
    const field = 'kind.kafka.message_format.avro.schema_registry_url';
    if (endpoint === undefined) refuse(field, url, ENDPOINT_SETTINGS.schemaRegistries, allow.schemaRegistries, 'is not an http(s) URL');
    else if (!allowed(allow.schemaRegistries, endpoint))
      refuse(field, url, ENDPOINT_SETTINGS.schemaRegistries, allow.schemaRegistries, 'is not an allowed schema registry');
  }
  return problems;
}

/** Malformed patterns of an allow-list, each with its setting's key. */
export function allowListProblems(allow: EndpointAllowList): { key: string; problem: string }[] {
  return (['kafkaBrokers', 'schemaRegistries'] as const).flatMap((which) =>
    allow[which].flatMap((pattern) => {
      const problem = endpointPatternProblem(pattern);
      return problem === undefined ? [] : [{ key: ENDPOINT_SETTINGS[which].key, problem }];
    }),
  );
}

/** A data source's refused endpoints as one message naming the source and each field, or undefined. */
export function sourceEndpointRefusal(source: registryV1.DataSource, allow: EndpointAllowList): string | undefined {
  const problems = sourceEndpointProblems(source, allow);
  if (problems.length === 0) return undefined;
  return problems.map((p) => `data source '${source.name}' ${p.field}: ${p.message}`).join('; ');
}
