import { registryV1 } from '@larder/proto';
import type { ObjectKindSlug } from '../shared/api';

const K = registryV1.ObjectKind;

const SLUGS = new Map<registryV1.ObjectKind, ObjectKindSlug>([
  [K.ENTITY, 'entity'],
  [K.DATA_SOURCE, 'data-source'],
  [K.FEATURE_VIEW, 'feature-view'],
  [K.ON_DEMAND_FEATURE_VIEW, 'on-demand-feature-view'],
  [K.FEATURE_SERVICE, 'feature-service'],
]);

/** The URL slug of a registry kind; undefined for kinds without a page (projects, saved datasets). */
export function kindSlug(kind: registryV1.ObjectKind): ObjectKindSlug | undefined {
  return SLUGS.get(kind);
}

/** A data source's kind as people say it: file, bigquery, postgres, kafka, push, request. */
export function sourceDetail(source: registryV1.DataSource): string {
  return source.kind.case ?? 'unknown';
}
