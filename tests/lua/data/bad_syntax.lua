-- A plugin with a syntax error on line 3.
return {
  api_level = 1 name = "bad_syntax",
}
