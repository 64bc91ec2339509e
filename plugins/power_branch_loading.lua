-- power_branch_loading: the most loaded branch, and how many are over
-- their rating.
local bands = require "samskap.bands"

return {
  api_level = 1,
  name = "power_branch_loading",
  version = "1.0.0",
  title = "Maximum branch loading",
  description = "Highest apparent-power loading of an in-service branch, in % of its rating " ..
    "(rate_a); the notes give how many branches exceed their rating.  Branches with rate_a = 0 " ..
    "(unlimited in MATPOWER) are skipped.",
  unit = "%",
  formula = "max_br 100 * max(sf_mva, st_mva) / rate_a  (or the loading_pct column); " ..
    "overloaded = #{br : loading > 100}",
  source = "N-0 thermal limits (MATPOWER rate_a, long-term rating); ENTSO-E operational " ..
    "security criteria.",
  needs = { "power" },
  params = {
    limit = { default = 100, min = 1, max = 1000, unit = "%", description = "loading counted as over the rating" },
  },
  bands = bands.lower_better(80, 100),
  compute = function(results, params, ctx)
    local br = results.power.branch
    local rated = br.rate_a:gt(0)
    if br:has("status") then rated = rated & br.status:gt(0) end
    local loading
    if br:has("loading_pct") then
      loading = br.loading_pct
    else
      local s = br.sf_mva
      if br:has("st_mva") then
        -- elementwise max(sf, st) = (a + b + |a - b|) / 2
        s = (br.sf_mva + br.st_mva + (br.sf_mva - br.st_mva):abs()) / 2
      end
      loading = s / br.rate_a * 100
    end
    if loading:count(rated) == 0 then error("no rated in-service branches", 0) end
    local over = loading:gt(params.limit) & rated
    local out = { value = loading:max(rated), detail = loading:per_element("max") }
    if ctx.areas then out.per_area = loading:group_by_area(ctx.areas, "max", rated) end
    out.notes = string.format("%d branches over %g %% of their rating", over:count(), params.limit)
    return out
  end,
}
