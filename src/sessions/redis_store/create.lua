-- Creates a session record if its tenant and the whole cluster are under their limits.
-- KEYS[1] record hash, KEYS[2] tenant's active set, KEYS[3] global active set,
-- KEYS[4] tenant's sessions (zset by creation), KEYS[5] owner instance's sessions set.
-- ARGV: per_tenant, global, created_ms, key_ttl_seconds, id, record key prefix, field, value, ...
local prefix = ARGV[6]
-- Drop members whose record ended or vanished, so a lost update never blocks a tenant.
for _, set in ipairs({KEYS[2], KEYS[3]}) do
  if set == KEYS[2] or redis.call('SCARD', set) >= tonumber(ARGV[2]) then
    for _, id in ipairs(redis.call('SMEMBERS', set)) do
      if redis.call('HGET', prefix .. id, 'status') ~= 'active' then
        redis.call('SREM', set, id)
      end
    end
  end
end
local mine = redis.call('SCARD', KEYS[2])
if mine >= tonumber(ARGV[1]) then return {-1, mine} end
local all = redis.call('SCARD', KEYS[3])
if all >= tonumber(ARGV[2]) then return {-2, all} end
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[5])
redis.call('SADD', KEYS[3], ARGV[5])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[5])
-- The tenant's index lives as long as its newest record (members of expired ones are
-- dropped when listed).
if redis.call('TTL', KEYS[4]) < tonumber(ARGV[4]) then redis.call('EXPIRE', KEYS[4], ARGV[4]) end
redis.call('SADD', KEYS[5], ARGV[5])
return {0, 0}
