import { create } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';
import { followPermissions } from './follow-permissions';
import type { PermissionSource } from './follow-permissions';
import type { Principal } from './principal';

const alice: Principal = { kind: 'token', subject: 'alice', groups: [], operator: false, id: 'user:alice' };
const driverStats = { project: 'rides', type: 'feature_view', name: 'driver_stats' } as const;

/** A registry copy in memory: what RegistryClient offers, moved by hand to a new version. */
class Copy implements PermissionSource {
  version = 1n;
  private listeners: (() => void)[] = [];
  private held: registryV1.Permission[] = [];
  projectNames(): string[] {
    return ['rides'];
  }
  permissions(project: string): registryV1.Permission[] {
    return project === 'rides' ? this.held : [];
  }
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }
  apply(permissions: registryV1.Permission[]): void {
    this.held = permissions;
    this.version += 1n;
    for (const listener of this.listeners) listener();
  }
}

const readers = create(registryV1.PermissionSchema, {
  name: 'readers',
  meta: { project: 'rides' },
  types: [registryV1.ObjectKind.FEATURE_VIEW],
  actions: [registryV1.Action.READ_ONLINE],
  policy: { users: ['alice'] },
});

test('the authorizer follows the copy: a permission applied later is in force at the next version, and gone when removed', () => {
  const copy = new Copy();
  const current = followPermissions(copy, true);
  expect(current().allowed(alice, 'read_online', driverStats)).toBe(false);
  copy.apply([readers]);
  expect(current().version).toBe(2n);
  expect(current().allowed(alice, 'read_online', driverStats)).toBe(true);
  copy.apply([]);
  expect(current().allowed(alice, 'read_online', driverStats)).toBe(false);
});

test('with enforcement off every call is allowed, whatever the registry holds', () => {
  const copy = new Copy();
  const current = followPermissions(copy, false);
  expect(current().allowed(alice, 'delete', driverStats)).toBe(true);
  copy.apply([readers]);
  expect(current().version).toBe(2n);
  expect(current().allowed(alice, 'delete', driverStats)).toBe(true);
});
