-- Counts one action on a session. KEYS[1] record hash. ARGV: kind, ok (1/0), now_ms.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local outcome = ARGV[2] == '1' and 'ok' or 'err'
redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HINCRBY', KEYS[1], outcome, 1)
redis.call('HINCRBY', KEYS[1], 'k:' .. ARGV[1] .. ':' .. outcome, 1)
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
if tonumber(ARGV[3]) > last then redis.call('HSET', KEYS[1], 'last', ARGV[3]) end
return redis.call('HGETALL', KEYS[1])
