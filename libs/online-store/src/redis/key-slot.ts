// Redis Cluster's key slot: CRC16-XMODEM of the key (or of its {hash tag}) modulo 16384.
// Computed on the raw bytes: our keys are binary, and ioredis' auto-pipelining turns keys
// into strings before hashing, which misplaces binary ones.

const TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let crc = i << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  TABLE[i] = crc;
}

function crc16(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

export function keySlot(key: Uint8Array): number {
  const open = key.indexOf(0x7b); // {
  if (open >= 0) {
    const close = key.indexOf(0x7d, open + 1); // }
    if (close > open + 1) return crc16(key, open + 1, close) & 0x3fff;
  }
  return crc16(key, 0, key.length) & 0x3fff;
}
