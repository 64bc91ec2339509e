-- water_pressure_adequacy: share of junction-periods whose pressure head is
-- within the required service range.
local bands = require "samskap.bands"
local units = require "samskap.units"

return {
  api_level = 1,
  name = "water_pressure_adequacy",
  version = "1.0.0",
  title = "Pressure adequacy",
  description = "Share of junction-periods (every junction at every reported period) whose " ..
    "pressure head lies within [pmin, pmax].  Tanks and reservoirs are not counted.",
  unit = "%",
  formula = "100 * #{(j,t) : pmin <= p(j,t) <= pmax} / #{(j,t)} over junctions j and periods t",
  source = "IWA Performance Indicators for Water Supply Services (Alegre et al., 3rd ed. 2016), " ..
    "QS11 'pressure of supply adequacy'; the range is the utility's service standard.",
  sdg = { code = "6.1.1", name = "Proportion of population using safely managed drinking water services" },
  needs = { "water" },
  params = {
    pmin = { default = 20, min = 0, max = 500, unit = "m", description = "minimum service pressure head" },
    pmax = { default = 80, min = 0, max = 1000, unit = "m", description = "maximum acceptable pressure head" },
  },
  bands = bands.higher_better(95, 80),
  compute = function(results, params, ctx)
    if params.pmin > params.pmax then error("pmin must not exceed pmax", 0) end
    local nodes = results.water.nodes
    local junction = nodes.type:ieq("junction")
    -- metres of head; US-unit results report psi
    local p = nodes.pressure
    local hf = units.factor(p:unit(), units.head)
    if hf ~= 1 then p = p * hf end
    local ok = p:between(params.pmin, params.pmax) & junction
    local total = p:count(junction)
    if total == 0 then error("no junction pressures in the results", 0) end
    local out = {
      value = 100 * ok:count() / total,
      detail = (ok:per_element("mean") * 100):masked(junction),   -- NaN for tanks
    }
    if ctx.areas then
      local good = ok:group_by_area(ctx.areas, "sum")
      local all = p:group_by_area(ctx.areas, "count", junction)
      out.per_area = {}
      for code, n in pairs(all) do out.per_area[code] = 100 * (good[code] or 0) / n end
    end
    return out
  end,
}
