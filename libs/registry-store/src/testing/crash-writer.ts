// A writer for the crash-safety test: applies a large registry to the file
// given on the command line. The test SIGKILLs it while it writes.
import { create } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';
import { FileRegistryStore } from '../file-store';
import { driverEntity, featureView, fileSource } from './fixtures';

async function main(): Promise<void> {
  const [file, views] = process.argv.slice(2);
  if (file === undefined || views === undefined) throw new Error('usage: crash-writer <registry.json> <views>');
  const store = await FileRegistryStore.open(file, { watch: false });
  const req = create(registryV1.ApplyRegistryRequestSchema, {
    project: 'rides',
    entities: [driverEntity()],
    dataSources: [fileSource()],
    featureViews: Array.from({ length: Number(views) }, (_, i) => featureView(`big_view_${i}`, { features: 10 })),
  });
  process.stdout.write('applying\n');
  await store.apply(req);
  process.stdout.write('applied\n');
  await store.close();
}

void main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
