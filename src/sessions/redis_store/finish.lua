-- Ends an active session once: sets its end fields, takes it out of the active sets, keeps the
-- record for the retention period. Returns the record, or false if it had already ended.
-- KEYS[1] record hash. ARGV: status, reason, error, closed_ms, credits, retention_seconds,
-- key root (e.g. "pp:"), max ended records kept cluster-wide (the oldest are deleted past it). (Keys derived from the record: standalone Redis, not Redis Cluster.)
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then return false end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'close_reason', ARGV[2], 'error', ARGV[3],
  'closed', ARGV[4], 'credits', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
local root = ARGV[7]
local id = redis.call('HGET', KEYS[1], 'id')
local tenant = redis.call('HGET', KEYS[1], 'tenant')
local owner = redis.call('HGET', KEYS[1], 'owner')
redis.call('SREM', root .. 'active', id)
redis.call('SREM', root .. 't:' .. tenant .. ':active', id)
if owner then redis.call('SREM', root .. 'i:' .. owner .. ':sessions', id) end
local ended = root .. 'ended'
redis.call('ZADD', ended, ARGV[4], id)
local over = redis.call('ZCARD', ended) - tonumber(ARGV[8])
if over > 0 then
  for _, old in ipairs(redis.call('ZRANGE', ended, 0, over - 1)) do
    local t = redis.call('HGET', root .. 's:' .. old, 'tenant')
    if t then redis.call('ZREM', root .. 't:' .. t .. ':all', old) end
    redis.call('DEL', root .. 's:' .. old)
  end
  redis.call('ZREMRANGEBYRANK', ended, 0, over - 1)
end
return redis.call('HGETALL', KEYS[1])
