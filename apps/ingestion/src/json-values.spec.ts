// A Kafka JSON message's int64 beyond 2^53, decoded and typed as the consumer does.
import { create } from '@bufbuild/protobuf';
import { registryV1, typesV1 } from '@larder/proto';
import { decoderFor, SchemaRegistryCache } from './kafka/decode';
import { rawToValue } from './values';

const T = typesV1.ValueType;

test('a Kafka JSON int64 beyond 2^53 keeps every digit; an INT32 or DOUBLE column sees the exact number too', async () => {
  const decode = decoderFor(create(registryV1.KafkaMessageFormatSchema, { format: { case: 'json', value: {} } }), new SchemaRegistryCache());
  const record = await decode(Buffer.from('{"driver_id": 9223372036854775807, "trips": 9007199254740993, "small": 7, "rate": 0.25}'));
  expect(rawToValue(T.INT64, record['driver_id']).val).toEqual({ case: 'int64Val', value: 9223372036854775807n });
  expect(rawToValue(T.INT64, record['trips']).val).toEqual({ case: 'int64Val', value: 9007199254740993n });
  expect(rawToValue(T.INT64, record['small']).val).toEqual({ case: 'int64Val', value: 7n });
  expect(rawToValue(T.DOUBLE, record['rate']).val).toEqual({ case: 'doubleVal', value: 0.25 });
  // Too big for INT32: the message quotes the number as it was sent.
  expect(() => rawToValue(T.INT32, record['trips'])).toThrow('expected INT32, got number 9007199254740993');
});
