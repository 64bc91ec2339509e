-- water_velocity_compliance: share of pipe-periods with flow velocity in
-- the design range.
local bands = require "samskap.bands"
local units = require "samskap.units"

return {
  api_level = 1,
  name = "water_velocity_compliance",
  version = "1.0.0",
  title = "Pipe velocity compliance",
  description = "Share of pipe-periods whose absolute velocity lies within [vmin, vmax]; pumps " ..
    "and valves are not counted.  High velocities mean headloss and transients, very low ones " ..
    "stagnation and water age.",
  unit = "%",
  formula = "100 * #{(i,t) : vmin <= |v(i,t)| <= vmax} / #{(i,t)} over pipes i and periods t",
  source = "Design velocity ranges of distribution mains (e.g. 0.3 - 2 m/s; AWWA M32, " ..
    "Norsk Vann rapport 2 guidance); the range is a parameter.",
  needs = { "water" },
  params = {
    vmin = { default = 0, min = 0, max = 10, unit = "m/s", description = "lowest acceptable velocity" },
    vmax = { default = 2, min = 0, max = 20, unit = "m/s", description = "highest acceptable velocity" },
  },
  bands = bands.higher_better(95, 80),
  compute = function(results, params, ctx)
    local links = results.water.links
    local pipe = links.type:ieq("pipe") | links.type:ieq("cvpipe")   -- check-valve pipes are pipes
    local v = links.velocity:abs() * units.factor(links.velocity:unit(), units.velocity)
    local ok = v:between(params.vmin, params.vmax) & pipe
    local total = v:count(pipe)
    if total == 0 then error("no pipe velocities in the results", 0) end
    local out = { value = 100 * ok:count() / total, detail = (ok:per_element("mean") * 100):masked(pipe) }
    if ctx.areas then
      local good = ok:group_by_area(ctx.areas, "sum")
      local all = v:group_by_area(ctx.areas, "count", pipe)
      out.per_area = {}
      for code, n in pairs(all) do out.per_area[code] = 100 * (good[code] or 0) / n end
    end
    local vmax = v:max(pipe)
    out.notes = string.format("highest pipe velocity %.3g m/s", vmax)
    return out
  end,
}
