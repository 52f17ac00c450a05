import { KIND_LABELS, OBJECT_KINDS } from '../../shared/api';
import type { ProjectDetail } from '../../shared/api';
import { useApi } from '../api';
import { Failure, Loading, Page, Tags } from '../components';
import { objectHref } from '../router';
import { NotFoundBody } from './not-found';

export function ProjectPage({ project }: { project: string }) {
  const loaded = useApi<ProjectDetail>(`/api/projects/${encodeURIComponent(project)}`);
  if (loaded.state === 'error' && loaded.error.status === 404) {
    return <NotFoundBody what={`project ${project}`} detail={loaded.error.message} search={project} />;
  }
  return (
    <Page title={`Project ${project}`}>
      {loaded.state === 'loading' && <Loading />}
      {loaded.state === 'error' && <Failure error={loaded.error} />}
      {loaded.state === 'ok' && (
        <>
          {typeof loaded.data.project['description'] === 'string' && <p>{loaded.data.project['description']}</p>}
          <p>
            <a href={`/lineage/${encodeURIComponent(project)}`}>Lineage graph</a> ·{' '}
            <a href={`/search?q=${encodeURIComponent(`project:${project}`)}`}>Features</a>
          </p>
          {OBJECT_KINDS.map((kind) => {
            const objects = loaded.data.objects.filter((o) => o.kind === kind);
            if (objects.length === 0) return null;
            return (
              <section key={kind} aria-labelledby={`kind-${kind}`}>
                <h2 id={`kind-${kind}`}>
                  {KIND_LABELS[kind]}s ({objects.length})
                </h2>
                <ul class="objects">
                  {objects.map((o) => (
                    <li key={o.name}>
                      <a href={objectHref(project, kind, o.name)}>{o.name}</a>
                      {o.description && <span class="muted"> — {o.description}</span>}
                      <Tags tags={o.tags} />
                    </li>
                  ))}
                </ul>
              </section>
            );
          })}
        </>
      )}
    </Page>
  );
}
