// Where each service of `npm start` listens. The services share the LARDER_* names of
// their settings (one LARDER_GRPC_PORT would put all five on one port), so npm start
// gives each its own ports, from a base port or from per-service variables:
//
//   LARDER_PORT_BASE=B              the whole store on B .. B+17 (table below)
//   LARDER_<SERVICE>_GRPC_PORT      one service's gRPC port, e.g. LARDER_ONLINE_SERVING_GRPC_PORT
//   LARDER_<SERVICE>_METRICS_PORT   its metrics port
//   LARDER_<SERVICE>_HTTP_PORT      online serving's and ingestion's HTTP port
//
// A per-service variable wins over the base, the base over the shared LARDER_GRPC_PORT
// / LARDER_METRICS_PORT / LARDER_HTTP_PORT / LARDER_INGESTION_HTTP_PORT (which tests set
// to 0 for free ports), and those over each service's default.
//
// Every listener binds to loopback (127.0.0.1) unless told otherwise, the same way:
//
//   LARDER_BIND_HOST                the address all services bind to (e.g. 0.0.0.0)
//   LARDER_<SERVICE>_BIND_HOST      one service's address, e.g. LARDER_INGESTION_BIND_HOST
//
// and a service's own LARDER_GRPC_HOST / LARDER_METRICS_HOST / LARDER_HTTP_HOST /
// LARDER_INGESTION_HTTP_HOST still pick one listener's address.

// The web UI (apps/ui) sits at base+2 (6568 by default): LARDER_UI_PORT moves it alone,
// LARDER_UI_BIND_HOST its address.

export type StartService = 'registry' | 'online-serving' | 'offline-retrieval' | 'materialization' | 'ingestion';

interface Ports {
  grpc: number;
  metrics: number;
  /** The service's HTTP endpoint and the variable its schema reads it from. */
  http?: { offset: number; env: string };
}

/** Offsets from LARDER_PORT_BASE; with the base at 6566 the gRPC and HTTP ports are the defaults. */
export const PORT_OFFSETS: Readonly<Record<StartService, Ports>> = {
  'online-serving': { grpc: 0, metrics: 10, http: { offset: 1, env: 'LARDER_HTTP_PORT' } },
  registry: { grpc: 4, metrics: 14 },
  'offline-retrieval': { grpc: 5, metrics: 15 },
  materialization: { grpc: 6, metrics: 16 },
  ingestion: { grpc: 7, metrics: 17, http: { offset: 8, env: 'LARDER_INGESTION_HTTP_PORT' } },
};
const SPAN = 18;

export class PortSettingError extends Error {}

const serviceVariable = (service: StartService, what: string): string => `LARDER_${service.toUpperCase().replace('-', '_')}_${what}`;
const variable = (service: StartService, what: string): string => serviceVariable(service, `${what}_PORT`);

function port(env: Readonly<Record<string, string | undefined>>, name: string, max = 65535): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) > max) throw new PortSettingError(`${name}: expected a port from 0 to ${max} but got ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** The environment one service runs with under npm start: the caller's, with its own port settings. */
export function serviceEnv(service: StartService, env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const offsets = PORT_OFFSETS[service];
  const base = port(env, 'LARDER_PORT_BASE', 65535 - SPAN + 1);
  const pick = (what: string, offset: number, shared: string): string | undefined => {
    const own = port(env, variable(service, what));
    if (own !== undefined) return String(own);
    // Base 0 means free ports for every service, like LARDER_GRPC_PORT=0.
    if (base !== undefined) return String(base === 0 ? 0 : base + offset);
    return env[shared];
  };
  const out: Record<string, string | undefined> = { ...env };
  out['LARDER_GRPC_PORT'] = pick('GRPC', offsets.grpc, 'LARDER_GRPC_PORT');
  out['LARDER_METRICS_PORT'] = pick('METRICS', offsets.metrics, 'LARDER_METRICS_PORT');
  if (offsets.http !== undefined) out[offsets.http.env] = pick('HTTP', offsets.http.offset, offsets.http.env);
  const bindHost = env[serviceVariable(service, 'BIND_HOST')];
  if (bindHost !== undefined && bindHost !== '') out['LARDER_BIND_HOST'] = bindHost;
  for (const [key, value] of Object.entries(out)) if (value === undefined) delete out[key];
  return out;
}

/** The UI server's offset from LARDER_PORT_BASE: 6568 with the default base. */
export const UI_PORT_OFFSET = 2;

/** The environment of the UI server under npm start: its port from LARDER_UI_PORT or the base. */
export function uiEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const base = port(env, 'LARDER_PORT_BASE', 65535 - SPAN + 1);
  const own = port(env, 'LARDER_UI_PORT');
  const out: Record<string, string | undefined> = { ...env };
  if (own !== undefined) out['LARDER_UI_PORT'] = String(own);
  else if (base !== undefined) out['LARDER_UI_PORT'] = String(base === 0 ? 0 : base + UI_PORT_OFFSET);
  // Free ports for the services (tests) mean a free port for the UI too.
  else if (env['LARDER_GRPC_PORT'] === '0') out['LARDER_UI_PORT'] = '0';
  const bindHost = env['LARDER_UI_BIND_HOST'];
  if (bindHost !== undefined && bindHost !== '') out['LARDER_BIND_HOST'] = bindHost;
  for (const [key, value] of Object.entries(out)) if (value === undefined) delete out[key];
  return out;
}
