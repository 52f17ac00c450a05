// Lua run inside Redis so that the last-writer-wins compare-and-set is atomic against
// every other writer: each call reads the stored event time and writes only when the
// new row is at least as new. Each script touches exactly one key (cluster-safe).

// Redis 7.0 has no per-field expiry, so a key's expiry serves every view stored in it:
// a write with a ttl extends it (never shortens it), and a write without one removes it,
// so data of a view without a ttl never disappears with another view's.
const EXPIRE_AFTER_WRITE = `
local function expire_after_write(key, before, ttl_ms)
  if ttl_ms > 0 then
    if before == -2 or (before >= 0 and before < ttl_ms) then
      redis.call('PEXPIRE', key, ttl_ms)
    end
  elseif before >= 0 then
    redis.call('PERSIST', key)
  end
end
`;

/**
 * Packed layout. KEYS[1] entity hash; ARGV: view field, new event time (ms, decimal),
 * packed row, ttl ms (0: none). The stored row's bytes 2..9 are its event time, u64
 * big-endian; ms values stay below 2^53, so Lua's doubles hold them exactly.
 * Returns 1 when written, 0 when the stored row is newer.
 */
export const PACKED_SET_LUA = `${EXPIRE_AFTER_WRITE}
local key = KEYS[1]
local new_ts = tonumber(ARGV[2])
local old = redis.call('HGET', key, ARGV[1])
if old and string.byte(old, 1) == 1 and #old >= 9 then
  local b1, b2, b3, b4, b5, b6, b7, b8 = string.byte(old, 2, 9)
  local old_ts = ((((((b1 * 256 + b2) * 256 + b3) * 256 + b4) * 256 + b5) * 256 + b6) * 256 + b7) * 256 + b8
  if new_ts < old_ts then return 0 end
end
local before = redis.call('PTTL', key)
redis.call('HSET', key, ARGV[1], ARGV[3])
expire_after_write(key, before, tonumber(ARGV[4]))
return 1
`;

/**
 * Feast layout. KEYS[1] entity hash; ARGV: [1] "_ts:<view>", [2] new seconds, [3] new
 * nanos, [4] serialized google.protobuf.Timestamp, [5] ttl ms, [6] n, then n
 * field/value pairs to set, then fields to delete (features the row leaves out).
 * The stored Timestamp is decoded here (varint fields 1 and 2).
 */
export const FEAST_SET_LUA = `${EXPIRE_AFTER_WRITE}
local function varint(s, i)
  local result, scale = 0, 1
  while true do
    local b = string.byte(s, i)
    if not b then return result, i end
    i = i + 1
    result = result + (b % 128) * scale
    if b < 128 then return result, i end
    scale = scale * 128
  end
end
local key = KEYS[1]
local old = redis.call('HGET', key, ARGV[1])
if old then
  local seconds, nanos, i = 0, 0, 1
  while i <= #old do
    local tag, v
    tag, i = varint(old, i)
    v, i = varint(old, i)
    if tag == 8 then seconds = v elseif tag == 16 then nanos = v end
  end
  local new_seconds, new_nanos = tonumber(ARGV[2]), tonumber(ARGV[3])
  if new_seconds < seconds or (new_seconds == seconds and new_nanos < nanos) then return 0 end
end
local before = redis.call('PTTL', key)
local n = tonumber(ARGV[6])
redis.call('HSET', key, ARGV[1], ARGV[4])
if n > 0 then redis.call('HSET', key, unpack(ARGV, 7, 6 + 2 * n)) end
if #ARGV > 6 + 2 * n then redis.call('HDEL', key, unpack(ARGV, 7 + 2 * n, #ARGV)) end
expire_after_write(key, before, tonumber(ARGV[5]))
return 1
`;
