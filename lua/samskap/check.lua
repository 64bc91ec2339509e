-- samskap.check: input checks shared by plugins, with messages that name
-- the missing table or column.
local M = {}

-- table(result, name, kernel) -> the table or an error
function M.table(result, name, kernel)
  local t = result and result.tables[name]
  if not t then
    error(string.format("%s results have no '%s' table", kernel or "input", name), 2)
  end
  return t
end

-- column(tab, name) -> the column or an error
function M.column(tab, name)
  if not tab:has(name) then
    error(string.format("table '%s' has no column '%s'", tab:name(), name), 2)
  end
  return tab:column(name)
end

-- share(part, whole) -> part/whole, NaN when whole is 0
function M.share(part, whole)
  if whole == 0 then return 0 / 0 end
  return part / whole
end

return M
