/* test_lua_sandbox.c - escape and abuse attempts against the plugin sandbox.
 * Each case must be refused with the expected error kind and a message that
 * says what was refused; the host must survive them all, in one process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sk_lua.h"

/* cases leave .mem out unless they need a bigger cap */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

typedef struct tcase {
    const char *name;
    const char *src;
    const char *kind;     /* NULL: must succeed */
    const char *msg;      /* substring of the message */
    size_t mem;           /* allocator cap; 0 -> 32 MiB */
    double deadline;      /* 0 -> 0.25 s */
} tcase;

static const tcase cases[] = {
    /* allow-list */
    {"io.open", "local f = io.open('/etc/passwd')", "runtime", "global 'io'"},
    {"os.execute", "os.execute('true')", "runtime", "field 'execute'"},
    {"os.getenv", "return os.getenv('HOME')", "runtime", "field 'getenv'"},
    {"require ffi", "local ffi = require 'ffi'", "runtime", "require 'ffi' refused"},
    {"require io", "local x = require 'io'", "runtime", "only modules of the plugin library"},
    {"debug.*", "debug.sethook()", "runtime", "global 'debug'"},
    {"dofile", "dofile('/etc/passwd')", "runtime", "global 'dofile'"},
    {"loadfile", "loadfile('/etc/passwd')", "runtime", "global 'loadfile'"},
    {"collectgarbage", "collectgarbage('stop')", "runtime", "global 'collectgarbage'"},
    {"rawset", "rawset(string, 'rep', print)", "runtime", "global 'rawset'"},
    {"package", "package.path = '/tmp/?.lua'", "runtime", "global 'package'"},
    /* bytecode */
    {"string.dump", "local f = string.dump(function() end)", "runtime", "field 'dump'"},
    {"load binary", "local f, e = load('\\27LuaT\\0\\25\\147\\13\\10\\26\\10') assert(not f) error(e, 0)",
     "runtime", "attempt to load a binary chunk"},
    {"load mode b", "load('return 1', 'x', 'b')", "runtime", "only text chunks"},
    {"load reader fn", "load(function() return nil end)", "runtime", "only string chunks"},
    {"binary chunk as plugin", "\x1bLuaT\x00\x19\x93\r\n\x1a\n", "load", "binary"},
    /* protected environment */
    {"string metatable", "getmetatable('').__index = {}", "runtime", "attempt to index"},
    {"string metatable value", "assert(getmetatable('') == 'protected') error('ok-protected', 0)",
     "runtime", "ok-protected"},
    {"setmetatable string", "setmetatable('', {})", "runtime", "table expected"},
    {"modify string lib", "string.rep = function() end", "runtime", "read-only host table"},
    {"modify via method", "('x').rep = 1", "runtime", "attempt to index"},
    {"modify samskap", "samskap.api_level = 99", "runtime", "read-only host table"},
    {"setmetatable host table", "setmetatable(samskap, {})", "runtime", "protected metatable"},
    {"setmetatable column", "setmetatable(samskap.column({1}), {})", "runtime", "table expected"},
    {"column read-only", "local c = samskap.column({1, 2}) c[1] = 5", "runtime", "read-only"},
    {"column metatable", "assert(getmetatable(samskap.column({1})) == 'samskap.column') error('ok-col', 0)",
     "runtime", "ok-col"},
    {"pairs hides host table", "local f, t = pairs(string) t.rep = 1", "runtime", "read-only host table"},
    {"pairs iterator abuse", "local f = pairs(string) f(samskap.column({1}), nil)", "runtime", "not a read-only host table"},
    {"pairs works", "local n = 0 for k, v in pairs(string) do n = n + 1 end assert(n > 10 and #samskap == 0)",
     NULL, NULL},
    {"own globals ok", "x = 1 _G.y = 2 assert(x + y == 3)", NULL, NULL},
    /* CPU deadline */
    {"infinite loop", "while true do end", "timeout", "deadline"},
    {"loop in pcall", "local ok = pcall(function() while true do end end) while true do end",
     "timeout", "deadline"},
    {"pcall swallow", "for i = 1, 1e9 do pcall(function() while true do end end) end",
     "timeout", "deadline"},
    {"xpcall swallow", "xpcall(function() while true do end end, function() return 'caught' end) "
                       "error('escaped')", "timeout", "deadline"},
    {"error handler loop", "xpcall(error, function() while true do end end)", "timeout", "deadline"},
    {"coroutine resume", "local co = coroutine.create(function() while true do end end) "
                         "print(coroutine.resume(co)) error('escaped')", "timeout", "deadline"},
    {"coroutine wrap+pcall", "local f = coroutine.wrap(function() while true do end end) "
                             "print(pcall(f)) error('escaped')", "timeout", "deadline"},
    {"coroutine yield loop", "local co = coroutine.wrap(function() while true do coroutine.yield() end end) "
                             "while true do pcall(co) end", "timeout", "deadline"},
    {"__close loop", "do local x <close> = setmetatable({}, {__close = function() while true do end end}) end",
     "timeout", "deadline"},
    {"string.rep empty", "local s = string.rep('', 1e18) assert(s == '')", NULL, NULL},
    {"string.rep sep", "local s = string.rep('', 1e15, 'x')", "runtime", "exceeds the sandbox limit"},
    {"string.rep bomb", "local s = string.rep('x', 1e10)", "runtime", "exceeds the sandbox limit"},
    {"table.concat range", "local t = setmetatable({}, {__index = function() return 'x' end}) "
                           "return table.concat(t, '', 1, 1e12)", "runtime", "table.concat"},
    {"table.move range", "table.move({}, 1, 1e15, 2)", "runtime", "table.move"},
    {"table.insert __len", "local t = setmetatable({}, {__len = function() return 1e15 end}) "
                           "table.insert(t, 1, 'x')", "runtime", "table.insert"},
    {"table.sort __len", "local t = setmetatable({}, {__len = function() return 2^40 end}) "
                         "table.sort(t)", "runtime", "table.sort"},
    {"pattern bomb", "return string.find(string.rep('a', 100000), 'a*a*a*a*b')", "runtime",
     "backtracking"},
    {"pattern ok", "assert(('  x  '):match('^%s*(.-)%s*$') == 'x') "
                   "assert(select(2, string.rep('a b ', 1000):gsub('%s+', ' ')) == 2000)", NULL, NULL},
    /* memory */
    {"table growth", "local t = {} for i = 1, 1e9 do t[i] = i end", "memory", "memory limit", 0, 5.0},
    {"string doubling", "local s = 'x' while true do s = s .. s end", "memory", "memory limit", 0, 5.0},
    {"memory in pcall", "for i = 1, 100 do pcall(function() local t = {} for j = 1, 1e9 do t[j] = j end end) end "
                        "error('escaped')", "memory", "memory limit", 0, 5.0},
    {"memory in coroutine", "local co = coroutine.create(function() local t = {} for j = 1, 1e9 do t[j] = j end end) "
                            "print(coroutine.resume(co)) error('escaped')", "memory", "memory limit", 0, 5.0},
    {"memory in wrap+pcall", "for i = 1, 50 do pcall(coroutine.wrap(function() local t = {} for j = 1, 1e9 do t[j] = j end end)) end "
                             "error('escaped')", "memory", "memory limit", 0, 5.0},
    /* recursion */
    {"deep recursion", "local function f(n) return 1 + f(n + 1) end f(1)", "runtime", "stack overflow",
     256u << 20, 5.0},
    {"C recursion", "local t t = setmetatable({}, {__index = function(_, k) return t[k] end}) return t.x",
     "runtime", "overflow"},
    {"coroutine nesting", "local function f() local co = coroutine.wrap(f) return co() end f()",
     "runtime", "coroutine nesting:1: coroutine nesting:1:"},
    /* errors */
    {"error half-way", "local x = 1\nlocal y = x + 1\nerror('boom at ' .. y)", "runtime", "boom at 2"},
    {"error object", "error({code = 1})", "runtime", "error object is a table value"},
    {"syntax", "local = 1", "load", "<name> expected near '='"},
    /* what must still work */
    {"library require", "local u = require 'samskap.units' assert(u.convert(1, 'kWh', 'J', u.energy) == 3.6e6) "
                        "local b = require 'samskap.bands' assert(b.classify(b.lower_better(1.5, 2.5), 2) == 'acceptable')",
     NULL, NULL},
    {"library read-only", "local u = require 'samskap.units' u.energy.kWh = 1", "runtime", "read-only"},
    {"coroutines work", "local co = coroutine.wrap(function(a) local b = coroutine.yield(a + 1) return b * 2 end) "
                        "assert(co(1) == 2 and co(5) == 10) "
                        "local ok, e = pcall(error, 'x', 0) assert(not ok and e == 'x') "
                        "local co2 = coroutine.create(function() pcall(coroutine.yield, 7) return 8 end) "
                        "local _, v = coroutine.resume(co2) assert(v == 7)", NULL, NULL},
    {"os time ok", "assert(type(os.time()) == 'number' and type(os.clock()) == 'number' and os.date('!%Y', 0) == '1970')",
     NULL, NULL},
    {"api level", "assert(samskap.api_level == 1)", NULL, NULL},
    {NULL, NULL, NULL, NULL, 0},
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(void)
{
    int fails = 0, n = 0;
    sk_lua_limits lim = {0};
    lim.deadline_s = 0.25;
    lim.mem_bytes = 32u << 20;
    for (const tcase *c = cases; c->name; c++, n++) {
        sk_lua_error e;
        memset(&e, 0, sizeof e);
        double t0 = now();
        sk_lua_limits cl = lim;
        if (c->mem)
            cl.mem_bytes = c->mem;
        if (c->deadline > 0)
            cl.deadline_s = c->deadline;
        int rc = sk_lua_exec(c->name, c->src, strlen(c->src), &cl, &e);
        double dt = now() - t0;
        int ok;
        if (!c->kind)
            ok = rc == 0;
        else
            ok = rc < 0 && strcmp(e.kind, c->kind) == 0 && strstr(e.message, c->msg) != NULL;
        /* a refused case must not hang: deadline + close budget + slack */
        if (dt > 3.0 + c->deadline)
            ok = 0;
        printf("%s %-24s %.3fs  %s%s%s%s\n", ok ? "ok  " : "FAIL", c->name, dt,
               rc < 0 ? e.kind : "success", rc < 0 ? ": " : "", e.where[0] ? e.where : "",
               rc < 0 ? "" : "");
        if (rc < 0)
            printf("       %s\n", e.message);
        if (!ok) {
            printf("       expected %s '%s'\n", c->kind ? c->kind : "success", c->msg ? c->msg : "");
            fails++;
        }
    }
    /* Finalizers run with Lua hooks off, so the sandbox refuses __gc
     * (a looping finalizer would otherwise escape the deadline). */
    {
        const char *src = "setmetatable({}, {__gc = function() while true do end end})";
        double t0 = now();
        sk_lua_error e;
        memset(&e, 0, sizeof e);
        int rc = sk_lua_exec("gc loop", src, strlen(src), &lim, &e);
        double dt = now() - t0;
        int ok = rc < 0 && strstr(e.message, "__gc metamethods are refused") && dt < 2.0;
        printf("%s %-24s %.3fs %s\n", ok ? "ok  " : "FAIL", "__gc refused", dt, e.message);
        fails += !ok;
        n++;
    }
    /* OOM injection: fail the Nth allocation, for every N until the script
     * runs clean; the host must report memory (or succeed), never crash. */
    {
        const char *src = "local u = require 'samskap.units' local t = {} for i = 1, 200 do t[i] = {i, tostring(i)} end "
                          "local c = samskap.column(t[1]) return #c";
        int clean = 0, memerr = 0, other = 0;
        for (long k = 1; k < 5000 && !clean; k++) {
            sk_lua_limits l2 = lim;
            l2.oom_after = k;
            sk_lua_error e;
            memset(&e, 0, sizeof e);
            int rc = sk_lua_exec("oom", src, strlen(src), &l2, &e);
            if (rc == 0)
                clean = 1;
            else if (strcmp(e.kind, "memory") == 0)
                memerr++;
            else {
                other++;
                if (other < 5)
                    printf("       oom_after=%ld: %s: %s\n", k, e.kind, e.message);
            }
        }
        int ok = clean && memerr > 10 && other == 0;
        printf("%s %-24s %d memory errors, %d other, clean run reached: %d\n", ok ? "ok  " : "FAIL",
               "OOM injection", memerr, other, clean);
        fails += !ok;
        n++;
    }
    printf("%d/%d sandbox cases passed\n", n - fails, n);
    return fails ? 1 : 0;
}
