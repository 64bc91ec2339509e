-- power_renewable_share: share of generation from renewable sources.
local bands = require "samskap.bands"

return {
  api_level = 1,
  name = "power_renewable_share",
  version = "1.0.0",
  title = "Renewable share of generation",
  description = "Active power from in-service generators tagged with a renewable fuel (column " ..
    "fuel, or type) divided by all active generation.  Untagged generators count as " ..
    "non-renewable, and the notes say how many there were.",
  unit = "%",
  formula = "100 * sum_{g renewable, in service} pg_mw(g) / sum_{g in service} pg_mw(g)",
  source = "SDG 7.2.1 'Renewable energy share in the total final energy consumption' " ..
    "(here: share of generation in the simulated network); IRENA fuel classes.",
  sdg = { code = "7.2.1", name = "Renewable energy share in the total final energy consumption" },
  needs = { "power" },
  params = {
    renewables = { default = "hydro,wind,solar,biomass,geothermal,wave,tidal",
      description = "comma-separated fuel tags counted as renewable" },
  },
  bands = bands.higher_better(50, 20),
  compute = function(results, params, ctx)
    local gen = results.power.gen
    local tag
    if gen:has("fuel") then tag = gen.fuel elseif gen:has("type") then tag = gen.type
    else error("generators are not tagged: no 'fuel' or 'type' column", 0) end
    local on = gen:has("status") and gen.status:gt(0) or nil
    local ren
    for fuel in string.gmatch(params.renewables, "[^,%s]+") do
      local m = tag:ieq(fuel)
      ren = ren and (ren | m) or m
    end
    if not ren then error("param renewables names no fuel", 0) end
    if on then ren = ren & on end
    local total = gen.pg_mw:sum(on)
    if total <= 0 then error("no generation in the results", 0) end
    local untagged = tag:eq(""):count()
    local out = { value = 100 * gen.pg_mw:sum(ren) / total }
    if ctx.areas then
      local r = gen.pg_mw:group_by_area(ctx.areas, "sum", ren)
      local t = gen.pg_mw:group_by_area(ctx.areas, "sum", on)
      out.per_area = {}
      for code, v in pairs(t) do if v > 0 then out.per_area[code] = 100 * (r[code] or 0) / v end end
    end
    out.notes = string.format("%d untagged generators", untagged)
    return out
  end,
}
