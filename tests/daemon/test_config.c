/* test_config.c - data-only Lua config files against an sk_opts table:
 * both file forms, every value syntax, each error path naming file:line
 * and key, flags over file over defaults, --print-config reading back to
 * the same values, the Markdown options table, and numbers parsed the same
 * under a Norwegian locale. */
#include <locale.h>
#include <stdint.h>
#include <unistd.h>

#include "sk_config.h"
#include "test_util.h"

/* A daemon-like option table over these targets. */
typedef struct {
    const char *broker, *name, *tenants, *config;
    int64_t jobs, heartbeat_ms, offset;
    int verbose, insecure, print, version;
} targets;

static void defaults(targets *t)
{
    memset(t, 0, sizeof *t);
    t->broker = "tcp://127.0.0.1:5571";
    t->jobs = 2;
    t->heartbeat_ms = 1000;
    t->offset = 0;
}

#define OPTS(t)                                                                                               \
    {                                                                                                         \
        {"broker", SK_OPT_STR, &(t).broker, 0, 0, "the broker's backend endpoint"},                           \
        {"name", SK_OPT_STR, &(t).name, 0, 0, "node name | shown in logs"},                                   \
        {"tenants", SK_OPT_STR, &(t).tenants, 0, 0, "comma list of tenants served"},                          \
        {"jobs", SK_OPT_INT, &(t).jobs, 1, 256, "jobs run at once"},                                          \
        {"heartbeat-ms", SK_OPT_INT, &(t).heartbeat_ms, 10, 600000, "heartbeat interval"},                    \
        {"offset", SK_OPT_INT, &(t).offset, -100, 100, "a signed setting"},                                   \
        {"verbose", SK_OPT_FLAG, &(t).verbose, 0, 0, "log every job event"},                                  \
        {"insecure", SK_OPT_FLAG, &(t).insecure, 0, 0, "run without keys"},                                   \
        {"config", SK_OPT_CLI_STR, &(t).config, 0, 0, "config file (a Lua table)"},                           \
        {"print-config", SK_OPT_CLI_FLAG, &(t).print, 0, 0, "print the effective config and exit"},          \
        {"version", SK_OPT_CLI_FLAG, &(t).version, 0, 0, "print the version and exit"},                       \
        {NULL, 0, NULL, 0, 0, NULL},                                                                          \
    }

static int apply_text(const char *text, targets *t, sk_error *err)
{
    sk_opt opts[] = OPTS(*t);
    sk_config *c = NULL;
    int rc = sk_config_parse(text, strlen(text), "node.lua", &c, err);
    if (rc == 0)
        rc = sk_config_apply(c, opts, err);
    /* Strings point into c: check them before freeing by copying the
     * interesting ones into static storage. */
    static char name[64], tenants[128], broker[128];
    if (rc == 0) {
        snprintf(name, sizeof name, "%s", t->name ? t->name : "(null)");
        snprintf(tenants, sizeof tenants, "%s", t->tenants ? t->tenants : "(null)");
        snprintf(broker, sizeof broker, "%s", t->broker ? t->broker : "(null)");
        t->name = name;
        t->tenants = tenants;
        t->broker = broker;
    }
    sk_config_free(c);
    return rc;
}

static void test_assignments_form(void)
{
    targets t;
    sk_error err = SK_ERROR_INIT;
    defaults(&t);
    const char *text = "#!/usr/bin/env lua\n"
                       "-- samskap-node config\n"
                       "broker = 'tcp://10.0.0.5:5571' -- the region host\n"
                       "name = \"haram-\\x31\\u{E5}\\065\\z\n"
                       "         b\"\n"
                       "--[[ a block\n comment ]] jobs = 4;\n"
                       "tenants = { \"1534\", '1507', }\n"
                       "heartbeat_ms = 0x1F4\n"
                       "offset = -7\n"
                       "verbose = true insecure = false\n";
    CHECK(apply_text(text, &t, &err) == 0);
    if (err.code)
        fprintf(stderr, "%s\n", err.msg);
    CHECK_STR(t.broker, "tcp://10.0.0.5:5571");
    CHECK_STR(t.name, "haram-1\xC3\xA5" "Ab");
    CHECK_STR(t.tenants, "1534,1507");
    CHECK(t.jobs == 4 && t.heartbeat_ms == 500 && t.offset == -7);
    CHECK(t.verbose == 1 && t.insecure == 0);
}

static void test_return_form(void)
{
    targets t;
    sk_error err = SK_ERROR_INIT;
    defaults(&t);
    const char *text = "return {\n"
                       "  [\"heartbeat-ms\"] = 2000,\n"
                       "  jobs = 8.0;  -- a float with an integral value is an integer\n"
                       "  name = [[node\n"
                       "one]],\n"
                       "  broker = nil,  -- nil keeps the default\n"
                       "}\n";
    CHECK(apply_text(text, &t, &err) == 0);
    CHECK(t.heartbeat_ms == 2000 && t.jobs == 8);
    CHECK_STR(t.name, "node\none");
    CHECK_STR(t.broker, "tcp://127.0.0.1:5571");
}

/* Each error names node.lua, the line and (for schema errors) the key. */
static void expect_error(const char *text, const char *want)
{
    targets t;
    sk_error err = SK_ERROR_INIT;
    defaults(&t);
    int rc = apply_text(text, &t, &err);
    CHECK(rc == SK_EINVAL);
    if (strstr(err.msg, want) == NULL) {
        fprintf(stderr, "for %s\n  got  '%s'\n  want '%s'\n", text, err.msg, want);
        test_failures++;
    }
}

static void test_errors(void)
{
    /* schema */
    expect_error("jobs = 2\nbogus = 1\n", "node.lua:2: unknown key 'bogus'");
    expect_error("\n\njobs = \"four\"\n", "node.lua:3: key 'jobs': expected an integer, got a string");
    expect_error("jobs = 2.5\n", "node.lua:1: key 'jobs': expected an integer, got a number");
    expect_error("jobs = 257\n", "node.lua:1: key 'jobs': 257 is out of range 1..256");
    expect_error("return {\n jobs = 4,\n heartbeat_ms = 5,\n}\n",
                 "node.lua:3: key 'heartbeat_ms': 5 is out of range 10..600000");
    expect_error("offset = -101\n", "node.lua:1: key 'offset': -101 is out of range -100..100");
    expect_error("verbose = 1\n", "node.lua:1: key 'verbose': expected true or false, got an integer");
    expect_error("broker = 5571\n", "node.lua:1: key 'broker': expected a string, got an integer");
    expect_error("broker = { host = \"x\" }\n", "node.lua:1: key 'broker': expected a string or a list of strings");
    expect_error("tenants = { \"1,2\" }\n", "node.lua:1: key 'tenants': list items may not contain ','");
    expect_error("config = \"/etc/other.lua\"\n", "node.lua:1: key 'config' can only be given on the command line");
    expect_error("print_config = true\n", "node.lua:1: key 'print_config' can only be given on the command line");
    expect_error("return { \"loose\" }\n", "node.lua:1: a value without a key");
    /* syntax */
    expect_error("jobs = 4\njobs = 5\n", "node.lua:2: key 'jobs' given twice (first on line 1)");
    expect_error("jobs = 4\nname = \"unterminated\n", "node.lua:2: unfinished string");
    expect_error("jobs = 4\n\nname = os.getenv(\"HOME\")\n", "node.lua:3: 'os' is a variable");
    expect_error("os.exit(1)\n", "node.lua:1: unexpected '.' (config files hold data only");
    expect_error("print 'hello'\n", "node.lua:1: expected '=' after 'print'");
    expect_error("jobs = 2 + 2\n", "node.lua:1: unexpected '+'");
    expect_error("jobs = 4\nlocal x = 1\n", "node.lua:2: 'local' is not allowed");
    expect_error("function f() end\n", "node.lua:1: 'function' is not allowed");
    expect_error("return { jobs = 4 } jobs = 5\n", "node.lua:1: expected end of file after the returned table");
    expect_error("return {\n jobs = 4\n name = \"x\"\n}\n", "node.lua:3: expected ',' or '}', got 'name'");
    expect_error("tenants = {\n\"a\",\n", "node.lua:3: expected a value");
    expect_error("name = \"a\\qb\"\n", "node.lua:1: invalid escape '\\q'");
    expect_error("name = \"a\\0b\"\n", "node.lua:1: strings may not contain NUL bytes");
    {
        /* A raw NUL byte inside quotes (strlen would stop at it, so build the
         * text by hand). */
        targets t;
        sk_error err = SK_ERROR_INIT;
        sk_config *c = NULL;
        defaults(&t);
        const char raw[] = "name = \"a\0b\"\n";
        CHECK(sk_config_parse(raw, sizeof raw - 1, "node.lua", &c, &err) == SK_EINVAL && c == NULL);
        CHECK(strstr(err.msg, "node.lua:1: strings may not contain NUL bytes") != NULL);
    }
    expect_error("name = \"\\300\"\n", "node.lua:1: decimal escape \\300 is larger than 255");
    expect_error("jobs = 99999999999999999999\n", "node.lua:1: integer '99999999999999999999' does not fit");
    expect_error("jobs = 1e\n", "node.lua:1: malformed number '1e'");
    expect_error("jobs = 0x0x10\n", "node.lua:1: malformed number '0x0x10'");
    expect_error("--[[ never closed\njobs = 1\n", "node.lua:1: unfinished long comment");
    expect_error("jobs = -\"x\"\n", "node.lua:1: expected a number after '-'");
    expect_error("jobs = \x01\n", "node.lua:1: unexpected byte 0x01");
    /* nesting is bounded */
    char deep[256] = "tenants = ";
    for (int i = 0; i < 40; i++)
        strcat(deep, "{");
    expect_error(deep, "nested more than 32 deep");
}

static void test_tree(void)
{
    sk_config *c = NULL;
    sk_error err = SK_ERROR_INIT;
    const char *text = "region = { name = \"Ålesund\", members = { 1504, 1534, -2.5e1 }, on = true }\n";
    CHECK(sk_config_parse(text, strlen(text), "r.lua", &c, &err) == 0);
    const sk_cval *r = sk_cval_get(sk_config_root(c), "region");
    CHECK(r != NULL && r->type == SK_CVAL_TABLE && r->n == 3);
    const sk_cval *m = sk_cval_get(r, "members");
    CHECK(m != NULL && m->n == 3 && m->items[0].key == NULL);
    CHECK(m->items[1].val.type == SK_CVAL_INT && m->items[1].val.i == 1534);
    CHECK(m->items[2].val.type == SK_CVAL_NUM && m->items[2].val.d == -25.0);
    CHECK(sk_cval_get(r, "on")->b);
    CHECK_STR(sk_cval_get(r, "name")->s, "Ålesund");
    CHECK(sk_cval_get(r, "missing") == NULL);
    CHECK_STR(sk_config_filename(c), "r.lua");
    sk_config_free(c);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

/* defaults < file < flags, through the calls a daemon's main makes. */
static void test_precedence(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/sk-config-test-%d.lua", (int)getpid());
    write_file(path, "jobs = 4\nname = \"from-file\"\nverbose = true\n");
    targets t;
    defaults(&t);
    sk_opt opts[] = OPTS(t);
    char *argv[] = {"samskap-node", "--jobs", "8", "--config", path, "--heartbeat-ms=250", NULL};
    sk_config *c = NULL;
    sk_error err = SK_ERROR_INIT;
    CHECK(sk_config_load_args(opts, 6, argv, &c, &err) == 0);
    CHECK(c != NULL);
    CHECK(t.jobs == 4);     /* the file applied ... */
    CHECK(sk_opts_parse(opts, 6, argv, "samskap-node", "test") == 0);
    CHECK(t.jobs == 8);     /* ... and the flag wins */
    CHECK(t.heartbeat_ms == 250);
    CHECK_STR(t.name, "from-file");
    CHECK(t.verbose == 1);
    CHECK_STR(t.broker, "tcp://127.0.0.1:5571");
    CHECK_STR(t.config, path);
    sk_config_free(c);

    /* A value that merely looks like --config is not one. */
    defaults(&t);
    char *argv2[] = {"samskap-node", "--name", "--config", NULL};
    CHECK(sk_config_load_args(opts, 3, argv2, &c, &err) == 0 && c == NULL);

    /* A missing file and a bad file are errors naming the file. */
    char *argv3[] = {"samskap-node", "--config=/nonexistent/node.lua", NULL};
    CHECK(sk_config_load_args(opts, 2, argv3, &c, &err) < 0 && c == NULL);
    CHECK(strstr(err.msg, "/nonexistent/node.lua") != NULL);
    write_file(path, "jobs = 4\nheartbeat_ms = 1\n");
    char *argv4[] = {"samskap-node", "--config", path, NULL};
    CHECK(sk_config_load_args(opts, 3, argv4, &c, &err) == SK_EINVAL && c == NULL);
    char want[128];
    snprintf(want, sizeof want, "%s:2: key 'heartbeat_ms': 1 is out of range", path);
    CHECK(strstr(err.msg, want) != NULL);
    /* Command-line-only switches parse like flags and take no value. */
    defaults(&t);
    char *argv6[] = {"samskap-node", "--print-config", "--version", NULL};
    CHECK(sk_opts_parse(opts, 3, argv6, "samskap-node", "test") == 0);
    CHECK(t.print == 1 && t.version == 1);
    char *argv7[] = {"samskap-node", "--print-config=yes", NULL};
    CHECK(sk_opts_parse(opts, 2, argv7, "samskap-node", "test") == -1);
    /* --help skips the file so help works with a broken config. */
    char *argv5[] = {"samskap-node", "--config", path, "--help", NULL};
    CHECK(sk_config_load_args(opts, 4, argv5, &c, &err) == 0 && c == NULL);
    unlink(path);
}

static void test_print_config_round_trip(void)
{
    targets t, back;
    defaults(&t);
    defaults(&back);
    t.name = "quote\" back\\slash\nnewline\ttab";
    t.tenants = NULL;
    t.jobs = 17;
    t.offset = -3;
    t.insecure = 1;
    t.broker = NULL;
    sk_opt opts[] = OPTS(t);
    sk_buf out = SK_BUF_INIT;
    CHECK(sk_config_render(opts, "samskap-node", &out) == 0);
    CHECK(strstr(out.data, "-- samskap-node: effective configuration") == out.data);
    CHECK(strstr(out.data, "\n  -- jobs run at once (1..256)\n  jobs = 17,\n") != NULL);
    CHECK(strstr(out.data, "  heartbeat_ms = 1000,\n") != NULL);
    CHECK(strstr(out.data, "  tenants = nil,\n") != NULL);
    CHECK(strstr(out.data, "  insecure = true,\n") != NULL);
    CHECK(strstr(out.data, "print_config") == NULL && strstr(out.data, "version") == NULL);
    /* It reads back to the same values. */
    back.broker = "something";
    sk_opt bopts[] = OPTS(back);
    sk_config *c = NULL;
    sk_error err = SK_ERROR_INIT;
    CHECK(sk_config_parse(out.data, out.len, "printed.lua", &c, &err) == 0);
    CHECK(sk_config_apply(c, bopts, &err) == 0);
    CHECK(back.jobs == 17 && back.offset == -3 && back.insecure == 1 && back.heartbeat_ms == 1000);
    CHECK_STR(back.name, t.name);
    CHECK(back.tenants == NULL);
    CHECK_STR(back.broker, "something");    /* nil left it alone */
    sk_config_free(c);
    sk_buf_free(&out);
}

static void test_markdown(void)
{
    targets t;
    defaults(&t);
    sk_opt opts[] = OPTS(t);
    sk_buf out = SK_BUF_INIT;
    CHECK(sk_config_markdown(opts, &out) == 0);
    const char *expect =
        "| flag | config key | type | default | range | meaning |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
        "| `--broker VALUE` | `broker` | string | `tcp://127.0.0.1:5571` | | the broker's backend endpoint |\n"
        "| `--name VALUE` | `name` | string |  | | node name \\| shown in logs |\n"
        "| `--tenants VALUE` | `tenants` | string |  | | comma list of tenants served |\n"
        "| `--jobs N` | `jobs` | integer | 2 | 1..256 | jobs run at once |\n"
        "| `--heartbeat-ms N` | `heartbeat_ms` | integer | 1000 | 10..600000 | heartbeat interval |\n"
        "| `--offset N` | `offset` | integer | 0 | -100..100 | a signed setting |\n"
        "| `--verbose` | `verbose` | boolean | false | | log every job event |\n"
        "| `--insecure` | `insecure` | boolean | false | | run without keys |\n"
        "| `--config VALUE` | (command line only) | string |  | | config file (a Lua table) |\n"
        "| `--print-config` | (command line only) | boolean | false | | print the effective config and exit |\n"
        "| `--version` | (command line only) | boolean | false | | print the version and exit |\n";
    CHECK_STR(out.data, expect);
    sk_buf_free(&out);
}

/* Under a decimal-comma locale "2.0" is still two and 0.5 still a half. */
static void test_locale(void)
{
    if (setlocale(LC_ALL, "nb_NO.UTF-8") == NULL)
        fprintf(stderr, "note: nb_NO.UTF-8 not installed; locale case runs in C\n");
    sk_config *c = NULL;
    sk_error err = SK_ERROR_INIT;
    const char *text = "a = 2.0\nb = 0.5e1\nc = 0x10\n";
    CHECK(sk_config_parse(text, strlen(text), "l.lua", &c, &err) == 0);
    CHECK(sk_cval_get(sk_config_root(c), "a")->d == 2.0);
    CHECK(sk_cval_get(sk_config_root(c), "b")->d == 5.0);
    CHECK(sk_cval_get(sk_config_root(c), "c")->i == 16);
    sk_config_free(c);
    targets t;
    defaults(&t);
    CHECK(apply_text("jobs = 3.0\n", &t, &err) == 0 && t.jobs == 3);
    setlocale(LC_ALL, "C");
}

int main(void)
{
    test_assignments_form();
    test_return_form();
    test_errors();
    test_tree();
    test_precedence();
    test_print_config_round_trip();
    test_markdown();
    test_locale();
    TEST_DONE();
}
