-- power_voltage_compliance: share of buses with voltage magnitude inside
-- the statutory band.
local bands = require "samskap.bands"

return {
  api_level = 1,
  name = "power_voltage_compliance",
  version = "1.0.0",
  title = "Voltage compliance",
  description = "Share of bus-periods whose voltage magnitude lies within [vmin, vmax] per unit.",
  unit = "%",
  formula = "100 * #{(b,t) : vmin <= |V(b,t)| <= vmax} / #{(b,t)}",
  source = "EN 50160 supply voltage limits (+-10 % LV) and transmission planning criteria " ..
    "(+-5 % at HV, e.g. ENTSO-E / NERC TPL-001); default 0.95 - 1.05 pu.",
  sdg = { code = "7.1.1", name = "Proportion of population with access to electricity" },
  needs = { "power" },
  params = {
    vmin = { default = 0.95, min = 0.5, max = 1.5, unit = "pu", description = "lower voltage limit" },
    vmax = { default = 1.05, min = 0.5, max = 1.5, unit = "pu", description = "upper voltage limit" },
  },
  bands = bands.higher_better(99, 95),
  compute = function(results, params, ctx)
    local bus = results.power.bus
    local vm = bus.vm_pu
    local ok = vm:between(params.vmin, params.vmax)
    local n = vm:count()
    if n == 0 then error("no bus voltages in the results", 0) end
    local out = { value = 100 * ok:count() / n, detail = vm:per_element("min") }
    if ctx.areas then
      local good = ok:group_by_area(ctx.areas, "sum")
      local all = vm:group_by_area(ctx.areas, "count")
      out.per_area = {}
      for code, c in pairs(all) do out.per_area[code] = 100 * (good[code] or 0) / c end
    end
    out.notes = string.format("voltage range %.4f - %.4f pu", vm:min(), vm:max())
    return out
  end,
}
