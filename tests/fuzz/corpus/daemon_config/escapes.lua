s1 = "\x41\065\u{E5}\z
  b" --[[ c ]] f1 = false; s_2 = { "a", "b" }
