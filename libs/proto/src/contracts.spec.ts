// The service surface other parts of Larder are built against: which rpcs
// exist, how they stream, and that each has its own request and response.
import type { DescFile, DescService } from '@bufbuild/protobuf';
import { ingestionV1, materializationV1, offlineV1, registryV1, servingV1, statisticsV1, typesV1 } from './index';

const services: DescService[] = [
  registryV1.RegistryService,
  servingV1.OnlineServingService,
  offlineV1.OfflineRetrievalService,
  materializationV1.MaterializationService,
  ingestionV1.IngestionService,
  statisticsV1.StatisticsService,
];

const streaming = (service: DescService): Record<string, string> =>
  Object.fromEntries(service.methods.filter((m) => m.methodKind !== 'unary').map((m) => [m.name, m.methodKind]));

describe('larder services', () => {
  it('names each rpc message <Rpc>Request / <Rpc>Response, used by that rpc only', () => {
    const seen = new Set<string>();
    for (const service of services) {
      for (const method of service.methods) {
        expect(method.input.name).toBe(`${method.name}Request`);
        expect(method.output.name).toBe(`${method.name}Response`);
        for (const type of [method.input.typeName, method.output.typeName]) {
          expect(seen.has(type)).toBe(false);
          seen.add(type);
        }
      }
    }
  });

  it('streams where results or changes are unbounded', () => {
    expect(streaming(registryV1.RegistryService)).toEqual({ WatchRegistry: 'server_streaming' });
    expect(streaming(servingV1.OnlineServingService)).toEqual({});
    expect(streaming(offlineV1.OfflineRetrievalService)).toEqual({
      GetHistoricalFeatures: 'bidi_streaming',
      GetHistoricalFeaturesFromSource: 'server_streaming',
    });
    expect(streaming(materializationV1.MaterializationService)).toEqual({ WatchJob: 'server_streaming' });
    expect(streaming(ingestionV1.IngestionService)).toEqual({});
    expect(streaming(statisticsV1.StatisticsService)).toEqual({});
  });

  it('offers Get, List and Delete for every registry kind', () => {
    const names = new Set(registryV1.RegistryService.methods.map((m) => m.name));
    const kinds: Array<[string, string]> = [
      ['Project', 'Projects'],
      ['Entity', 'Entities'],
      ['DataSource', 'DataSources'],
      ['FeatureView', 'FeatureViews'],
      ['OnDemandFeatureView', 'OnDemandFeatureViews'],
      ['FeatureService', 'FeatureServices'],
      ['SavedDataset', 'SavedDatasets'],
      ['Permission', 'Permissions'],
    ];
    for (const [one, many] of kinds) {
      expect([names.has(`Get${one}`), names.has(`List${many}`), names.has(`Delete${one}`)]).toEqual([true, true, true]);
    }
  });

  it('sets a Go package on every larder file, one per proto package', () => {
    const files = new Map<string, DescFile>();
    const visit = (file: DescFile): void => {
      if (files.has(file.name) || !file.proto.package.startsWith('larder.')) return;
      files.set(file.name, file);
      file.dependencies.forEach(visit);
    };
    services.forEach((service) => visit(service.file));
    visit(typesV1.file_larder_types_v1_entity_key);
    const goPackages = new Map<string, string>();
    for (const file of files.values()) {
      const [, domain, version] = file.proto.package.split('.');
      expect(file.proto.options?.goPackage).toBe(`github.com/larder-dev/larder/gen/go/larder/${domain}/${version};${domain}${version}`);
      goPackages.set(file.proto.package, file.proto.options?.goPackage ?? '');
    }
    expect(files.size).toBe(22);
    expect([...goPackages.keys()].sort()).toEqual([
      'larder.ingestion.v1',
      'larder.materialization.v1',
      'larder.offline.v1',
      'larder.registry.v1',
      'larder.serving.v1',
      'larder.statistics.v1',
      'larder.types.v1',
    ]);
  });
});
