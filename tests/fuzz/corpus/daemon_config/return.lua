return {
  ["heartbeat-ms"] = 2000, -- c
  s1 = [==[long
string]==],
  i1 = -0x10, i2 = 3.0,
  t = { 1, { a = nil }, 2.5e-3 },
}
