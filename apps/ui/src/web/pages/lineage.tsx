import { KIND_LABELS } from '../../shared/api';
import type { Lineage, LineageColumn, LineageNode, ProjectSummary } from '../../shared/api';
import { useApi } from '../api';
import { Failure, Loading, Page } from '../components';
import { objectHref } from '../router';
import { NotFoundBody } from './not-found';

const COLUMNS: readonly { column: LineageColumn; label: string }[] = [
  { column: 'source', label: 'Sources' },
  { column: 'view', label: 'Feature views' },
  { column: 'on-demand', label: 'On-demand views' },
  { column: 'service', label: 'Feature services' },
];
const NODE_W = 200;
const NODE_H = 40;
const GAP_X = 90;
const GAP_Y = 14;
const TOP = 40;

interface Placed extends LineageNode {
  x: number;
  y: number;
}

/**
 * Columns left to right in the order data flows; within a column, each node sits
 * near the average row of what feeds it, which keeps most edges short and uncrossed.
 */
function layout(graph: Lineage): { nodes: Placed[]; width: number; height: number } {
  const inputs = new Map<string, string[]>();
  for (const e of graph.edges) inputs.set(e.to, [...(inputs.get(e.to) ?? []), e.from]);
  const row = new Map<string, number>();
  const placed: Placed[] = [];
  let rows = 0;
  COLUMNS.forEach(({ column }, c) => {
    const nodes = graph.nodes.filter((n) => n.column === column);
    const weight = (n: LineageNode): number => {
      const from = (inputs.get(n.id) ?? []).map((id) => row.get(id)).filter((r): r is number => r !== undefined);
      return from.length === 0 ? Number.MAX_SAFE_INTEGER : from.reduce((a, b) => a + b, 0) / from.length;
    };
    nodes.sort((a, b) => weight(a) - weight(b) || a.name.localeCompare(b.name));
    nodes.forEach((n, i) => {
      row.set(n.id, i);
      placed.push({ ...n, x: c * (NODE_W + GAP_X), y: TOP + i * (NODE_H + GAP_Y) });
    });
    rows = Math.max(rows, nodes.length);
  });
  return { nodes: placed, width: COLUMNS.length * (NODE_W + GAP_X) - GAP_X, height: TOP + rows * (NODE_H + GAP_Y) };
}

export function LineagePage({ project }: { project: string | undefined }) {
  return project === undefined ? <ProjectList /> : <ProjectLineage project={project} />;
}

function ProjectList() {
  const projects = useApi<{ projects: ProjectSummary[] }>('/api/overview');
  return (
    <Page title="Lineage">
      {projects.state === 'loading' && <Loading />}
      {projects.state === 'error' && <Failure error={projects.error} />}
      {projects.state === 'ok' && (
        <ul>
          {projects.data.projects.map((p) => (
            <li key={p.name}>
              <a href={`/lineage/${encodeURIComponent(p.name)}`}>{p.name}</a>
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}

function ProjectLineage({ project }: { project: string }) {
  const loaded = useApi<Lineage>(`/api/projects/${encodeURIComponent(project)}/lineage`);
  if (loaded.state === 'error' && loaded.error.status === 404) return <NotFoundBody what={`project ${project}`} detail={loaded.error.message} />;
  return (
    <Page title={`Lineage of ${project}`}>
      <p class="muted">Sources feed feature views, which feed on-demand views and feature services. Every box is a link.</p>
      {loaded.state === 'loading' && <Loading />}
      {loaded.state === 'error' && <Failure error={loaded.error} />}
      {loaded.state === 'ok' && <Graph graph={loaded.data} />}
    </Page>
  );
}

function Graph({ graph }: { graph: Lineage }) {
  const { nodes, width, height } = layout(graph);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  return (
    <div class="graph-scroll">
      <svg class="lineage" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="group" aria-label={`lineage of project ${graph.project}`}>
        <defs>
          <marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L8,4 L0,8 z" class="arrow-head" />
          </marker>
        </defs>
        {COLUMNS.map(({ label }, c) => (
          <text key={label} class="column-label" x={c * (NODE_W + GAP_X)} y={20} aria-hidden="true">
            {label}
          </text>
        ))}
        {graph.edges.map((e) => {
          const from = byId.get(e.from);
          const to = byId.get(e.to);
          if (from === undefined || to === undefined) return null;
          const x1 = from.x + NODE_W;
          const y1 = from.y + NODE_H / 2;
          const x2 = to.x;
          const y2 = to.y + NODE_H / 2;
          const bend = Math.max(40, (x2 - x1) / 2);
          return (
            <path
              key={`${e.from}->${e.to}`}
              class="edge"
              d={`M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`}
              marker-end="url(#arrow)"
              aria-hidden="true"
            />
          );
        })}
        {nodes.map((n) => (
          <a key={n.id} href={objectHref(graph.project, n.kind, n.name)} class={`node node-${n.column}`}>
            <title>{`${n.name} (${KIND_LABELS[n.kind]})`}</title>
            <rect x={n.x} y={n.y} width={NODE_W} height={NODE_H} rx={6} />
            <text x={n.x + 10} y={n.y + 17}>
              {n.name.length > 26 ? `${n.name.slice(0, 25)}…` : n.name}
            </text>
            <text class="detail" x={n.x + 10} y={n.y + 32}>
              {n.column === 'source' ? `${n.detail} source` : `${KIND_LABELS[n.kind]} · ${n.detail}`}
            </text>
          </a>
        ))}
      </svg>
    </div>
  );
}
