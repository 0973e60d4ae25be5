-- Amend the history entry whose sid is ARGV[1] with the JSON object ARGV[2] (lists replace).
-- KEYS[1] the channel's history list (JSON entries). Returns 1 if an entry changed, else 0.
local entries = redis.call('LRANGE', KEYS[1], 0, -1)
local changes = cjson.decode(ARGV[2])
for i, raw in ipairs(entries) do
  local entry = cjson.decode(raw)
  if entry['sid'] == ARGV[1] then
    for k, v in pairs(changes) do entry[k] = v end
    redis.call('LSET', KEYS[1], i - 1, cjson.encode(entry))
    return 1
  end
end
return 0
