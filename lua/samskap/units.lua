-- samskap.units: unit conversions plugins commonly need.  Results carry SI
-- units (m, m3/s, W, s) unless a column's unit says otherwise.
local M = {}

M.SECONDS_PER_HOUR = 3600
M.SECONDS_PER_DAY = 86400
M.HOURS_PER_YEAR = 8760

-- factors to SI
M.flow = { ["m3/s"] = 1, ["L/s"] = 1e-3, ["m3/h"] = 1 / 3600, ["m3/d"] = 1 / 86400, ["MLD"] = 1e3 / 86400 }
M.energy = { J = 1, kWh = 3.6e6, MWh = 3.6e9, GWh = 3.6e12 }
M.power = { W = 1, kW = 1e3, MW = 1e6, GW = 1e9 }
M.length = { m = 1, km = 1e3, mm = 1e-3 }

-- convert(v, from, to, table): v in unit `from` to unit `to` of one family.
function M.convert(v, from, to, family)
  local f, t = family[from], family[to]
  if not f then error("unknown unit '" .. tostring(from) .. "'", 2) end
  if not t then error("unknown unit '" .. tostring(to) .. "'", 2) end
  return v * f / t
end

-- factor(unit, family): multiply values in `unit` by this for SI; "" -> 1.
function M.factor(unit, family)
  if unit == nil or unit == "" then return 1 end
  local f = family[unit]
  if not f then error("unknown unit '" .. tostring(unit) .. "'", 2) end
  return f
end

-- Period lengths (s) from period start times; the last period lasts as
-- long as the one before it (or `last` seconds when given).
function M.durations(periods, last)
  local n = #periods
  local d = {}
  for i = 1, n - 1 do d[i] = periods[i + 1] - periods[i] end
  if n >= 1 then d[n] = last or (n >= 2 and d[n - 1]) or 3600 end
  return d
end

return M
