"""Preloads a topic for the ingest benchmark with librdkafka (confluent-kafka), the
producer most non-Node applications use, with its default batching (linger.ms 5,
batches of up to 1 MB per partition, acks all). Events have the same JSON shape as
bench/ingest.ts writes with kafkajs. Prints one JSON line: events sent and seconds."""
import json
import random
import sys
import time

from confluent_kafka import Producer


def main() -> None:
    brokers, topic, count, features, entities = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    producer = Producer({"bootstrap.servers": brokers})
    failures = []
    started = time.monotonic()
    now_ms = int(time.time() * 1000)
    for i in range(count):
        entity = random.randrange(entities)
        # In the past and ascending: ingestion refuses event times more than 5 min ahead.
        body = '{"driver_id":%d,"ts":%d' % (entity, now_ms - count + i)
        body += "".join(',"f%d":%s' % (f, json.dumps((entity % 1000) / 7 + f)) for f in range(features))
        body += "}"
        while True:
            try:
                producer.produce(topic, body.encode(), on_delivery=lambda err, _msg: err is not None and failures.append(str(err)))
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(60)
    if failures:
        raise SystemExit(f"{len(failures)} events not delivered: {failures[0]}")
    print(json.dumps({"sent": count, "seconds": round(time.monotonic() - started, 2)}))


if __name__ == "__main__":
    main()
