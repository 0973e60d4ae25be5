-- Set fields of an existing session hash (recording events); never creates a session.
-- KEYS[1] session hash; ARGV field, value, ... Returns 1 if set, 0 if there is no session.
-- The field `files` (a JSON list of file objects) is merged by filename into the stored
-- list: a reported detail replaces the stored one, a new file is appended, none is dropped
-- (worker/state/files.py; history_update_by_sid.lua merges the same way).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end

local function as_file(item)
  -- Sessions stored before file objects hold plain names.
  if type(item) == 'string' then return {filename = item} end
  if type(item) == 'table' and type(item['filename']) == 'string' then return item end
  return nil
end

local function merge_files(known, reported)
  local merged, by_name = {}, {}
  for _, list in ipairs({known, reported}) do
    for _, item in ipairs(list) do
      local file = as_file(item)
      if file ~= nil then
        local earlier = by_name[file['filename']]
        if earlier == nil then
          merged[#merged + 1] = file
          by_name[file['filename']] = file
        else
          for k, v in pairs(file) do earlier[k] = v end
        end
      end
    end
  end
  return merged
end

local fields = {}
for i = 1, #ARGV, 2 do
  local name, value = ARGV[i], ARGV[i + 1]
  if name == 'files' then
    local stored = redis.call('HGET', KEYS[1], 'files')
    local known = stored and cjson.decode(stored) or {}
    local merged = merge_files(type(known) == 'table' and known or {}, cjson.decode(value))
    if #merged > 0 then value = cjson.encode(merged) end
  end
  fields[#fields + 1] = name
  fields[#fields + 1] = value
end
redis.call('HSET', KEYS[1], unpack(fields))
return 1
