-- samskap.bands: classify a value into labelled bands, as plugins declare
-- them ({label=, min=, max=}, inclusive, first match wins).
local M = {}

-- classify(bands, v) -> label or nil
function M.classify(bands, v)
  if v == nil or v ~= v then return nil end
  for _, b in ipairs(bands) do
    if (b.min == nil or v >= b.min) and (b.max == nil or v <= b.max) then
      return b.label
    end
  end
  return nil
end

-- Three bands from two cut points.  higher_better: >= good_from is good,
-- >= ok_from acceptable, else poor; otherwise <= good_to good, <= ok_to
-- acceptable, else poor.
function M.higher_better(good_from, ok_from)
  return {
    { label = "good", min = good_from },
    { label = "acceptable", min = ok_from, max = good_from },
    { label = "poor", max = ok_from },
  }
end

function M.lower_better(good_to, ok_to)
  return {
    { label = "good", max = good_to },
    { label = "acceptable", min = good_to, max = ok_to },
    { label = "poor", min = ok_to },
  }
end

return M
