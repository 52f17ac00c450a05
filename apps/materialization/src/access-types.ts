// The access vocabulary of @larder/auth (issue 16's design), declared here until that
// library lands; then these become re-exports of it.

export type Action =
  | 'describe'
  | 'create'
  | 'update'
  | 'delete'
  | 'read_online'
  | 'read_offline'
  | 'write_online'
  | 'write_offline'
  | 'materialize'
  | 'manage_permissions';

export type ObjectType = 'project' | 'entity' | 'data_source' | 'feature_view' | 'on_demand_feature_view' | 'feature_service' | 'saved_dataset' | 'permission';

export interface ObjectRef {
  project: string;
  type: ObjectType;
  name: string;
  tags?: Readonly<Record<string, string>>;
}
