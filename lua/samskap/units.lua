-- samskap.units: unit conversions plugins commonly need.  Results carry SI
-- units (m, m3/s, W, s) unless a column's unit says otherwise.
local M = {}

M.SECONDS_PER_HOUR = 3600
M.SECONDS_PER_DAY = 86400
M.HOURS_PER_YEAR = 8760

-- factors to SI.  Flow also takes EPANET's unit codes (US gallon
-- 3.785411784 L, imperial gallon 4.54609 L, acre-foot 1233.48183754752 m3).
M.flow = {
  ["m3/s"] = 1, ["L/s"] = 1e-3, ["L/min"] = 1e-3 / 60, ["m3/h"] = 1 / 3600, ["m3/d"] = 1 / 86400,
  CMS = 1, LPS = 1e-3, LPM = 1e-3 / 60, CMH = 1 / 3600, CMD = 1 / 86400, MLD = 1e3 / 86400,
  CFS = 0.028316846592, GPM = 3.785411784e-3 / 60, MGD = 3785.411784 / 86400,
  IMGD = 4546.09 / 86400, AFD = 1233.48183754752 / 86400,
}
M.energy = { J = 1, kWh = 3.6e6, MWh = 3.6e9, GWh = 3.6e12 }
M.power = { W = 1, kW = 1e3, MW = 1e6, GW = 1e9 }
M.length = { m = 1, km = 1e3, mm = 1e-3, ft = 0.3048, mi = 1609.344 }
M.volume = { m3 = 1, L = 1e-3, ft3 = 0.028316846592, gal = 3.785411784e-3 }
M.velocity = { ["m/s"] = 1, ["ft/s"] = 0.3048, fps = 0.3048 }
-- pressure as metres of water head (EPANET reports m in SI, psi in US units)
M.head = { m = 1, ft = 0.3048, psi = 0.703069578, kPa = 0.101971621 }

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
