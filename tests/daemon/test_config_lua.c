/* test_config_lua.c - sk_config reads what Lua 5.4 reads (see
 * config_vs_lua.h) on samples that exercise every value syntax, line-break
 * conventions and the corners where a hand-written lexer drifts. */
#include "config_vs_lua.h"
#include "test_util.h"

static const char *const samples[] = {
    "jobs = 4\nname = 'x'\nverbose = true\n",
    "return { jobs = 4, [\"heartbeat-ms\"] = 2000, name = [[a\nb]], tenants = { '1', \"2\", }; }\n",
    "#!/usr/bin/env lua\nx = 1\n",
    "\xEF\xBB\xBFx = 'bom'\n",
    "s = \"\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\\'\\x41\\065\\u{E5}\\u{10FFFF}\\z   \n\t  end\"\n",
    "s = 'line\\\nbreak'\ns2 = 'cr\\\r\nlf'\n",
    "s = [==[\r\nfirst\r\nsecond\n\rthird]] ]=] ]==]\n",
    "s = [[\n]]\nt = [[]]\n",
    "a = 0x10 b = 0XfF c = 1e3 d = .5 e = 5. f = 0x1p4 g = 0x.8 h = 3e-2 i = -0 j = -0.0\n",
    "a = 9223372036854775807\nb = -9223372036854775808\nc = -0x8000000000000000\nd = 0x7fffffffffffffff\n",
    "l = { 'a', nil, 'c', k = false, ['k 2'] = { {}, { {} } } }\n",
    "r = { 'a', k = 1, 'b'; 'c' }\n",
    "--[==[ long\ncomment ]] still ]==] x = 1 -- tail\n--[ not long\ny = 2\n",
    ";;x = 1;;y = 2;\n",
    "x = nil\ny = { nil }\n",
    "x=1\ry=2\r\nz=3\n\rw=4\n",
    "return {\n}\n",
    "return { 1, 2, 3 };\n",
    "e = ''\n",
    "k = { [ [[long key]] ] = 1 }\n",
    "n = - 5\nm = -\n 7\n",
    "u = \"\\u{7FF}\\u{800}\\u{FFFF}\\u{10000}\"\n",
    "d = \"\\1\\12\\123\\0012\"\n",
};

int main(void)
{
    char why[512];
    size_t n = sizeof samples / sizeof samples[0];
    for (size_t i = 0; i < n; i++) {
        sk_config *c = NULL;
        sk_error err = SK_ERROR_INIT;
        /* Every sample must be accepted, or the comparison proves nothing. */
        if (sk_config_parse(samples[i], strlen(samples[i]), "t.lua", &c, &err) < 0) {
            fprintf(stderr, "sample %zu refused: %s\n", i, err.msg);
            test_failures++;
            continue;
        }
        sk_config_free(c);
        if (config_vs_lua(samples[i], strlen(samples[i]), why, sizeof why) != 0) {
            fprintf(stderr, "sample %zu differs from Lua: %s\n", i, why);
            test_failures++;
        }
    }
    /* The checker itself notices a difference. */
    lua_State *L = luaL_newstate();
    sk_config *c = NULL;
    sk_error err = SK_ERROR_INIT;
    CHECK(sk_config_parse("x = 1", 5, "t.lua", &c, &err) == 0);
    luaL_dostring(L, "return { x = 2 }");
    CHECK(cvl_table(L, -1, sk_config_root(c), "root", why, sizeof why) == 1);
    CHECK(strstr(why, "root.x") != NULL);
    lua_close(L);
    sk_config_free(c);
    TEST_DONE();
}
