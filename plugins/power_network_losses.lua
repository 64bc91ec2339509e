-- power_network_losses: active power lost in branches as a share of load.
local bands = require "samskap.bands"

return {
  api_level = 1,
  name = "power_network_losses",
  version = "1.1.0",
  title = "Network losses",
  description = "Active power lost in lines and transformers divided by the active load served. " ..
    "Losses come from the branch loss_mw column, or from pf_mw + pt_mw when it is absent.",
  unit = "%",
  formula = "100 * sum_br loss_mw / sum_bus pd_mw (summed over periods when present); " ..
    "per area: the area's branches over the area's buses",
  source = "Transmission and distribution losses as % of output (World Bank EG.ELC.LOSS.ZS; " ..
    "CEER benchmarking of network losses).",
  sdg = { code = "7.3.1", name = "Energy intensity measured in terms of primary energy and GDP" },
  needs = { "power" },
  params = {},
  bands = bands.lower_better(5, 10),
  compute = function(results, params, ctx)
    local p = results.power
    local br, bus = p.branch, p.bus
    local loss
    if br:has("loss_mw") then loss = br.loss_mw else loss = br.pf_mw + br.pt_mw end
    local inservice = br:has("status") and br.status:gt(0) or nil
    local L = loss:sum(inservice)
    local D = bus.pd_mw:sum()
    if D <= 0 then error("no load in the results", 0) end
    local out = { value = 100 * L / D, detail = loss }
    out.notes = string.format("losses %.4g MW of %.4g MW load", L, D)
    if ctx.areas then
      -- each area's branch losses over its own load; a tie counts where the
      -- area map puts it (the merger's rule: the first end's municipality)
      local la = loss:group_by_area(ctx.areas, "sum", inservice)
      local da = bus.pd_mw:group_by_area(ctx.areas, "sum")
      out.per_area = {}
      for code, d in pairs(da) do
        if d > 0 then out.per_area[code] = 100 * (la[code] or 0) / d end
      end
    end
    return out
  end,
}
