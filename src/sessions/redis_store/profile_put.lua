-- Stores a sealed profile if its tenant stays within its caps (the profile it replaces does
-- not count). KEYS[1] the tenant's blobs (hash name -> bytes), KEYS[2] their descriptions
-- (hash name -> JSON with sizeBytes).
-- ARGV: name, blob, description JSON, size, max tenant bytes, max tenant profiles.
local used, count = 0, 0
local metas = redis.call('HGETALL', KEYS[2])
for i = 1, #metas, 2 do
  if metas[i] ~= ARGV[1] then
    local ok, m = pcall(cjson.decode, metas[i + 1])
    if ok and type(m) == 'table' and tonumber(m.sizeBytes) then used = used + tonumber(m.sizeBytes) end
    count = count + 1
  end
end
if count >= tonumber(ARGV[6]) then return {-2, count} end
if used + tonumber(ARGV[4]) > tonumber(ARGV[5]) then return {-1, used + tonumber(ARGV[4])} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return {0, 0}
