// A first online read over gRPC, as a model server would do it: the latest
// driver_hourly_stats values of a few drivers from the online-serving service.
//
//   npx tsx examples/online-read.ts [driver_id…]
//
// The service address is $LARDER_ONLINE_SERVING, by default 127.0.0.1:6566
// (where `npm start` serves). Only @grpc/grpc-js, @bufbuild/protobuf and the
// generated contracts are needed; any language with gRPC stubs from proto/ works alike.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { Client, credentials } from '@grpc/grpc-js';
import { servingV1, typesV1 } from '@larder/proto';

const address = process.env.LARDER_ONLINE_SERVING || '127.0.0.1:6566';
const driverIds = process.argv.slice(2).map(BigInt);
const features = ['driver_hourly_stats:conv_rate', 'driver_hourly_stats:acc_rate', 'driver_hourly_stats:avg_daily_trips'];

const request = create(servingV1.GetOnlineFeaturesRequestSchema, {
  kind: { case: 'features', value: { val: features } },
  // Entity rows by column: one int64 per driver.
  entities: {
    driver_id: { val: (driverIds.length > 0 ? driverIds : [1001n, 1002n]).map((id) => ({ val: { case: 'int64Val' as const, value: id } })) },
  },
});

function getOnlineFeatures(client: Client, req: servingV1.GetOnlineFeaturesRequest): Promise<servingV1.GetOnlineFeaturesResponse> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      `/${servingV1.OnlineServingService.typeName}/GetOnlineFeatures`,
      (message: servingV1.GetOnlineFeaturesRequest) => Buffer.from(toBinary(servingV1.GetOnlineFeaturesRequestSchema, message)),
      (bytes: Buffer) => fromBinary(servingV1.GetOnlineFeaturesResponseSchema, bytes),
      req,
      { deadline: Date.now() + 5_000 },
      (error, response) => (error ? reject(error) : resolve(response!)),
    );
  });
}

async function main(): Promise<void> {
  const client = new Client(address, credentials.createInsecure());
  try {
    const response = await getOnlineFeatures(client, request);
    // Columnar, as in Feast: one vector per output name (the join key first), one entry per entity row.
    const names = response.metadata?.featureNames?.val ?? [];
    response.results.forEach((vector, column) => {
      const cells = vector.values.map((value, row) => {
        const status = typesV1.FieldStatus[vector.statuses[row] ?? 0];
        const at = vector.eventTimestamps[row];
        const when = at && at.seconds > 0n ? ` @ ${timestampDate(at).toISOString()}` : '';
        return `${String(value.val.value ?? 'null')} ${status}${column === 0 ? '' : when}`;
      });
      console.log(`${names[column]}: ${cells.join(' | ')}`);
    });
  } finally {
    client.close();
  }
}

main().catch((error: unknown) => {
  console.error(`online read from ${address} failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
