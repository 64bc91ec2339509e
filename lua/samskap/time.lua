-- samskap.time: period weights for results with a period axis, so volumes
-- and energies integrate over unequal periods correctly.
local M = {}

-- durations(tab [, last_s]) -> array of period lengths in seconds.  The
-- last period lasts as long as the one before it (or last_s).  A table with
-- no period axis is one period of `last_s` (default 1: a plain weight).
function M.durations(tab, last_s)
  local n = tab:nperiods()
  if n == 0 then return { last_s or 1 } end
  local p = tab:periods()
  local d = {}
  for i = 1, n - 1 do d[i] = p[i + 1] - p[i] end
  d[n] = last_s or (n >= 2 and d[n - 1]) or 3600
  return d
end

-- integrate(per_period_column, durations) -> sum_p value_p * duration_p
function M.integrate(col, durations)
  local s = 0
  for i = 1, #col do
    local v = col[i]
    if v == v then s = s + v * durations[i] end
  end
  return s
end

-- total_s(durations) -> covered seconds
function M.total_s(durations)
  local s = 0
  for i = 1, #durations do s = s + durations[i] end
  return s
end

return M
