-- Amend the history entry whose sid is ARGV[1] with the JSON object ARGV[2]: each key
-- replaces the entry's, except `files`, merged by filename into the entry's files (a
-- reported detail replaces the stored one, a new file is appended, none is dropped; entries
-- stored before file objects hold plain names, read as {filename = name}; see
-- worker/state/files.py and sessions_set_fields.lua).
-- KEYS[1] the channel's history list (JSON entries). Returns 1 if an entry changed, else 0.

local function as_file(item)
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

local entries = redis.call('LRANGE', KEYS[1], 0, -1)
local changes = cjson.decode(ARGV[2])
for i, raw in ipairs(entries) do
  local entry = cjson.decode(raw)
  if entry['sid'] == ARGV[1] then
    for k, v in pairs(changes) do
      if k == 'files' then
        local known = type(entry['files']) == 'table' and entry['files'] or {}
        local merged = merge_files(known, v)
        -- An empty Lua table encodes as {}: leave an entry without files as it is.
        if #merged > 0 then entry['files'] = merged end
      else
        entry[k] = v
      end
    end
    redis.call('LSET', KEYS[1], i - 1, cjson.encode(entry))
    return 1
  end
end
return 0
