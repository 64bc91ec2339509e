-- samskap.format: numbers for people (C locale, dot decimal).
local M = {}

function M.number(v, digits)
  if v == nil then return "n/a" end
  if v ~= v then return "NaN" end
  return string.format("%." .. tostring(digits or 3) .. "g", v)
end

function M.percent(share, digits)
  if share == nil or share ~= share then return "n/a" end
  return string.format("%." .. tostring(digits or 1) .. "f %%", share * 100)
end

function M.with_unit(v, unit, digits)
  local s = M.number(v, digits)
  if unit and unit ~= "" then s = s .. " " .. unit end
  return s
end

return M
