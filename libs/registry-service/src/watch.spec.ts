import { create, toBinary } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';
import { watchParts } from './watch';

const entity = (name: string, bytes: number): registryV1.RegistryChange =>
  create(registryV1.RegistryChangeSchema, {
    kind: registryV1.ObjectKind.ENTITY,
    project: 'p',
    name,
    change: registryV1.ChangeType.CREATE,
    object: { case: 'entity', value: { name, joinKey: `${name}_id`, description: 'x'.repeat(bytes) } },
  });

describe('watchParts', () => {
  it('keeps a small message whole', () => {
    const message = create(registryV1.WatchRegistryResponseSchema, { version: 7n, snapshot: true, changes: [entity('a', 10), entity('b', 10)] });
    expect(watchParts(message, 1_000)).toEqual([message]);
  });

  it('splits by encoded size, in order, every part of the same version, continued on all but the last; an oversized object goes alone', () => {
    const changes = [entity('a', 400), entity('b', 400), entity('c', 400), entity('huge', 5_000), entity('d', 100)];
    const parts = watchParts(create(registryV1.WatchRegistryResponseSchema, { version: 9n, snapshot: true, changes }), 1_000);
    expect(parts.map((p) => p.changes.map((c) => c.name))).toEqual([['a', 'b'], ['c'], ['huge'], ['d']]);
    expect(parts.map((p) => [p.version, p.snapshot, p.continued])).toEqual([
      [9n, true, true],
      [9n, true, true],
      [9n, true, true],
      [9n, true, false],
    ]);
    for (const part of parts.filter((p) => p.changes.length > 1)) {
      expect(part.changes.reduce((sum, c) => sum + toBinary(registryV1.RegistryChangeSchema, c).byteLength, 0)).toBeLessThanOrEqual(1_000);
    }
  });
});
