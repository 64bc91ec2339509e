/* cmd_bus.c - the subcommands that talk to a broker: submit, wait, cancel,
 * services, jobs. */
#include <errno.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "sk_buf.h"
#include "sk_client.h"
#include "sk_csv.h"
#include "sk_hash.h"
#include "sk_keys.h"
#include "sk_num.h"
#include "sk_result.h"

typedef struct common_opts {
    const char *broker;
    const char *tenant;
    double timeout_s;          /* 0: none */
    double connect_timeout_s;
    bool json;
    const char *out_dir;
    const char *curve_key;    /* this client's key pair file */
    const char *server_key;   /* the broker's public key file */
} common_opts;

static void common_defaults(common_opts *o)
{
    o->broker = sk_cli_default_broker();
    o->tenant = getenv("SAMSKAP_TENANT") && *getenv("SAMSKAP_TENANT") ? getenv("SAMSKAP_TENANT") : "default";
    o->timeout_s = 0;
    o->connect_timeout_s = 10;
    o->json = false;
    o->out_dir = NULL;
    o->curve_key = getenv("SAMSKAP_CURVE_KEY") && *getenv("SAMSKAP_CURVE_KEY") ? getenv("SAMSKAP_CURVE_KEY") : NULL;
    o->server_key = getenv("SAMSKAP_SERVER_KEY") && *getenv("SAMSKAP_SERVER_KEY") ? getenv("SAMSKAP_SERVER_KEY") : NULL;
}

/* A client: plain, or CURVE when key files are given (either both or
 * neither).  Shared by every command that talks to the broker. */
struct sk_client *sk_cli_open_client(const char *broker, const char *curve_key, const char *server_key, sk_error *err)
{
    if (curve_key == NULL && server_key == NULL)
        return sk_client_new(broker, err);
    sk_keypair mine, server;
    if (curve_key == NULL || server_key == NULL) {
        sk_fail(err, SK_EINVAL, "CURVE needs both --curve-key (or $SAMSKAP_CURVE_KEY) and --server-key (or $SAMSKAP_SERVER_KEY)");
        return NULL;
    }
    if (sk_key_read(curve_key, true, &mine, err) < 0 || sk_key_read(server_key, false, &server, err) < 0)
        return NULL;
    sk_curve cv = {server.public_key, mine.public_key, mine.secret_key};
    sk_client *c = sk_client_new_opts(NULL, broker, &cv, err);
    explicit_bzero(&mine, sizeof mine);
    return c;
}

static sk_client *open_client(const common_opts *o, sk_error *err)
{
    return sk_cli_open_client(o->broker, o->curve_key, o->server_key, err);
}

/* Options every bus command shares; returns 1 if consumed (advancing *i),
 * 0 if not ours, -1 on error. */
static int common_arg(common_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char *needs[] = {"--broker", "--tenant", "--timeout", "--connect-timeout", "--out", "--curve-key",
                           "--server-key", NULL};
    for (const char **n = needs; *n; n++) {
        if (strcmp(a, *n) == 0) {
            if (*i + 1 >= argc) {
                fprintf(stderr, "samskap: %s needs a value\n", a);
                return -1;
            }
            const char *v = argv[++*i];
            double d;
            if (strcmp(a, "--broker") == 0) {
                o->broker = v;
            } else if (strcmp(a, "--tenant") == 0) {
                o->tenant = v;
            } else if (strcmp(a, "--out") == 0) {
                o->out_dir = v;
            } else if (strcmp(a, "--curve-key") == 0) {
                o->curve_key = v;
            } else if (strcmp(a, "--server-key") == 0) {
                o->server_key = v;
            } else {
                if (sk_parse_f64(v, &d) < 0 || d < 0 || d > 1e7) {
                    fprintf(stderr, "samskap: %s: '%s' is not a number of seconds\n", a, v);
                    return -1;
                }
                if (strcmp(a, "--timeout") == 0)
                    o->timeout_s = d;
                else
                    o->connect_timeout_s = d;
            }
            return 1;
        }
    }
    if (strcmp(a, "--json") == 0) {
        o->json = true;
        return 1;
    }
    return 0;
}

static const char common_help[] =
    "  --broker ENDPOINT       broker frontend (default $SAMSKAP_BROKER or tcp://127.0.0.1:5570)\n"
    "  --tenant NAME           tenant the job belongs to (default $SAMSKAP_TENANT or 'default')\n"
    "  --timeout SECONDS       give up (and set the job's deadline) after this long\n"
    "  --connect-timeout S     how long to wait for the broker to answer (default 10)\n"
    "  --json                  print one JSON object on stdout\n"
    "  --curve-key FILE        this client's key pair (or $SAMSKAP_CURVE_KEY): CurveZMQ\n"
    "  --server-key FILE       the broker's public key (or $SAMSKAP_SERVER_KEY)\n"
    "  --help                  show this help\n";

static int64_t last_failure_code;

static int exit_for_code(int64_t code)
{
    last_failure_code = code;
    return code == SK_ETIMEDOUT ? SK_EXIT_TIMEOUT : SK_EXIT_FAILED;
}

static void download_progress(void *ud, int64_t got, int64_t total)
{
    (void)ud;
    char text[80];
    snprintf(text, sizeof text, "%lld of %lld bytes", (long long)got, (long long)total);
    sk_cli_progress("result", total > 0 ? (double)got / (double)total : 1, text);
}

/* Wait for the outcome of job (known id, or the first accepted for req).
 * Prints it (a result by reference is downloaded first); returns an exit
 * code. */
static int await_outcome(sk_client *c, const common_opts *o, int64_t req, char *job, size_t joblen,
                         bool have_ack)
{
    sk_error err = SK_ERROR_INIT;
    int64_t budget_ms = o->timeout_s > 0 ? (int64_t)(o->timeout_s * 1000) + 5000 : -1;
    int64_t connect_ms = (int64_t)(o->connect_timeout_s * 1000);
    for (;;) {
        sk_wire_msg m;
        int wait = have_ack ? (int)(budget_ms < 0 ? -1 : budget_ms) : (int)connect_ms;
        int rc = sk_client_recv(c, wait, &m, &err);
        if (rc < 0) {
            sk_cli_progress_done();
            if (err.code == SK_ECANCELED && job[0])
                fprintf(stderr, "samskap: interrupted; job %s continues: samskap wait %s\n", job, job);
            else
                fprintf(stderr, "samskap: %s\n", err.msg);
            return SK_EXIT_ERROR;
        }
        if (rc == 0) {
            sk_cli_progress_done();
            if (!have_ack) {
                fprintf(stderr, "samskap: no answer from the broker at %s within %.0f s (is samskap-broker running?)\n",
                        o->broker, o->connect_timeout_s);
                return SK_EXIT_UNREACHABLE;
            }
            fprintf(stderr, "samskap: timed out after %.0f s; job %s may still finish: samskap wait %s\n",
                    o->timeout_s, job, job);
            return SK_EXIT_TIMEOUT;
        }
        sk_header *h = &m.hdr;
        bool mine = (req != 0 && h->req == req) || (job[0] && strcmp(h->job, job) == 0);
        if (!mine) {
            sk_wire_msg_close(&m);
            continue;
        }
        switch (h->type) {
        case SK_MSG_ACCEPTED:
            snprintf(job, joblen, "%s", h->job);
            have_ack = true;
            if (!o->json)
                fprintf(stderr, "samskap: job %s %s\n", job, h->text[0] ? h->text : "accepted");
            break;
        case SK_MSG_PROGRESS: {
            char what[80];
            snprintf(what, sizeof what, "%.60s", h->job);
            sk_cli_progress(what, h->progress, h->text);
            break;
        }
        case SK_MSG_RESULT: {
            sk_cli_progress_done();
            snprintf(job, joblen, "%s", h->job);
            char *fetched = NULL;
            size_t len = 0;
            const void *body = NULL;
            if (sk_client_result_ref(&m) != NULL) {
                /* Larger than a frame: the broker holds it as a dataset. */
                sk_fetch_opts fo = {.timeout_ms = (int)(connect_ms > 30000 ? connect_ms : 30000),
                                    .progress = download_progress};
                if (sk_client_fetch_result(c, &m, &fo, &fetched, &len, &err) < 0) {
                    sk_cli_progress_done();
                    fprintf(stderr, "samskap: %s\n", err.msg);
                    sk_wire_msg_close(&m);
                    return err.code == SK_ETIMEDOUT ? SK_EXIT_UNREACHABLE : SK_EXIT_ERROR;
                }
                sk_cli_progress_done();
                body = fetched;
            } else if (m.nbodies == 1) {
                body = zmq_msg_data(&m.bodies[0]);
                len = zmq_msg_size(&m.bodies[0]);
            } else {
                fprintf(stderr, "samskap: job %s: result without a body\n", job);
                sk_wire_msg_close(&m);
                return SK_EXIT_ERROR;
            }
            sk_result *r = sk_result_decode(body, len, &err);
            sk_wire_msg_close(&m);
            free(fetched);
            if (r == NULL) {
                fprintf(stderr, "samskap: job %s: cannot read its result: %s\n", job, err.msg);
                return SK_EXIT_ERROR;
            }
            int code = SK_EXIT_OK;
            if (o->out_dir != NULL && sk_result_write_dir(r, o->out_dir, &err) < 0) {
                fprintf(stderr, "samskap: %s\n", err.msg);
                code = SK_EXIT_ERROR;
            }
            if (o->json) {
                char *json = sk_result_to_json(r, 1000000);
                printf("{\"job\":\"%s\",\"state\":\"done\",\"result\":%s}\n", job, json ? json : "null");
                free(json);
            } else {
                sk_cli_print_result(stdout, r, 20);
                if (o->out_dir)
                    fprintf(stderr, "samskap: result written to %s/\n", o->out_dir);
            }
            sk_result_free(r);
            return code;
        }
        case SK_MSG_FAILED:
        case SK_MSG_ERROR: {
            sk_cli_progress_done();
            int64_t code = h->code;
            if (o->json) {
                sk_buf b = SK_BUF_INIT;
                sk_buf_puts(&b, "{\"job\":");
                sk_json_str(&b, h->job[0] ? h->job : job);
                sk_buf_puts(&b, ",\"state\":\"failed\",\"code\":");
                sk_json_str(&b, sk_strerror((int)code));
                sk_buf_puts(&b, ",\"reason\":");
                sk_json_str(&b, h->reason);
                sk_buf_puts(&b, "}\n");
                fputs(b.data, stdout);
                sk_buf_free(&b);
            }
            fprintf(stderr, "samskap: job %s %s: %s\n", h->job[0] ? h->job : (job[0] ? job : "(not accepted)"),
                    code == SK_ECANCELED ? "cancelled" : "failed", h->reason);
            sk_wire_msg_close(&m);
            return exit_for_code(code);
        }
        default:
            break;
        }
        sk_wire_msg_close(&m);
    }
}

static void submit_usage(FILE *out)
{
    fprintf(out, "usage: samskap submit SERVICE [--param KEY=VALUE]... [--input [NAME=]FILE]...\n"
                 "                      [--idempotency-key KEY] [--out DIR] [common options]\n\n"
                 "Submits a job and waits for its result.  The result is printed (or written\n"
                 "as a CSV directory with --out).  Progress shows on stderr on a terminal.\n"
                 "A result larger than the broker's --max-frame (a broker with --data-dir\n"
                 "takes it by reference) is downloaded in chunks and checked first.\n\n"
                 "  --param KEY=VALUE       a job parameter (repeatable)\n"
                 "  --input [NAME=]FILE     an input file; NAME defaults to the file name (repeatable);\n"
                 "                          a result directory (from --out) is sent as that result;\n"
                 "                          NAME=@sha256:HEX names a dataset stored with `samskap dataset put`\n"
                 "  --idempotency-key KEY   resubmitting with the same key returns the same job\n"
                 "  --after JOB=INPUT       run after JOB, with its result as input INPUT (repeatable);\n"
                 "                          if JOB fails, this job fails with its reason\n"
                 "  --out DIR               write the result as a CSV directory\n%s",
            common_help);
}

int sk_cli_submit(int argc, char **argv)
{
    common_opts o;
    sk_submit s;
    sk_error err = SK_ERROR_INIT;
    sk_params *params = sk_params_new();
    char *files[SK_MAX_BODIES] = {0};
    char names[SK_MAX_BODIES][SK_ID_MAX];
    int code = SK_EXIT_USAGE;
    sk_client *c = NULL;
    common_defaults(&o);
    memset(&s, 0, sizeof s);
    if (params == NULL)
        return SK_EXIT_ERROR;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = common_arg(&o, argc, argv, &i);
        if (r < 0)
            goto out;
        if (r > 0)
            continue;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            submit_usage(stdout);
            code = SK_EXIT_OK;
            goto out;
        } else if ((strcmp(a, "--param") == 0 || strcmp(a, "-p") == 0) && i + 1 < argc) {
            if (sk_params_parse_kv(params, argv[++i], &err) < 0) {
                fprintf(stderr, "samskap: %s\n", err.msg);
                goto out;
            }
        } else if (strcmp(a, "--input") == 0 && i + 1 < argc && strstr(argv[i + 1], "=@sha256:") != NULL) {
            /* NAME=@sha256:HEX: a dataset stored with `samskap dataset put` */
            static char refs[SK_MAX_BODIES][2 * SK_ID_MAX];
            const char *spec = argv[++i], *at = strstr(spec, "=@");
            if (s.ndatasets == SK_MAX_BODIES) {
                fprintf(stderr, "samskap: at most %d dataset inputs\n", SK_MAX_BODIES);
                goto out;
            }
            snprintf(refs[s.ndatasets], sizeof refs[0], "%.*s=%s", (int)(at - spec), spec, at + 2);
            s.datasets[s.ndatasets] = refs[s.ndatasets];
            s.ndatasets++;
        } else if (strcmp(a, "--input") == 0 && i + 1 < argc) {
            const char *spec = argv[++i], *eq = strchr(spec, '=');
            const char *path = eq ? eq + 1 : spec;
            if (s.ninputs == SK_MAX_BODIES) {
                fprintf(stderr, "samskap: at most %d inputs\n", SK_MAX_BODIES);
                goto out;
            }
            if (eq) {
                snprintf(names[s.ninputs], SK_ID_MAX, "%.*s", (int)(eq - spec), spec);
            } else {
                const char *base = strrchr(path, '/');
                snprintf(names[s.ninputs], SK_ID_MAX, "%s", base ? base + 1 : path);
            }
            size_t len;
            struct stat st;
            if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
                /* A result directory (from --out or `samskap sim`) travels
                 * as the msgpack result it was written from. */
                sk_result *r = sk_result_read_dir(path, &err);
                if (r == NULL || sk_result_encode(r, &files[s.ninputs], &len, &err) < 0) {
                    fprintf(stderr, "samskap: --input %s: %s\n", spec, err.msg);
                    sk_result_free(r);
                    code = SK_EXIT_ERROR;
                    goto out;
                }
                sk_result_free(r);
            } else {
                files[s.ninputs] = sk_read_file(path, &len, (size_t)SK_MAX_FRAME, &err);
            }
            if (files[s.ninputs] == NULL) {
                fprintf(stderr, "samskap: %s\n", err.msg);
                code = SK_EXIT_ERROR;
                goto out;
            }
            s.input_names[s.ninputs] = names[s.ninputs];
            s.input_data[s.ninputs] = files[s.ninputs];
            s.input_len[s.ninputs] = len;
            s.ninputs++;
        } else if (strcmp(a, "--idempotency-key") == 0 && i + 1 < argc) {
            s.idem = argv[++i];
        } else if (strcmp(a, "--after") == 0 && i + 1 < argc) {
            if (s.ndeps == SK_MAX_BODIES || strchr(argv[i + 1], '=') == NULL) {
                fprintf(stderr, "samskap submit: --after takes JOB=INPUT (at most %d)\n", SK_MAX_BODIES);
                goto out;
            }
            s.deps[s.ndeps++] = argv[++i];
        } else if (a[0] == '-') {
            fprintf(stderr, "samskap submit: unknown option '%s' (see --help)\n", a);
            goto out;
        } else if (s.service == NULL) {
            s.service = a;
        } else {
            fprintf(stderr, "samskap submit: unexpected argument '%s'\n", a);
            goto out;
        }
    }
    if (s.service == NULL) {
        submit_usage(stderr);
        goto out;
    }
    s.tenant = o.tenant;
    s.params = params;
    s.timeout_ms = (int64_t)(o.timeout_s * 1000);
    c = open_client(&o, &err);
    if (c == NULL) {
        fprintf(stderr, "samskap: %s\n", err.msg);
        code = SK_EXIT_UNREACHABLE;
        goto out;
    }
    int64_t req = sk_client_submit(c, &s, &err);
    if (req < 0) {
        fprintf(stderr, "samskap: %s\n", err.msg);
        code = err.code == SK_ETOOBIG || err.code == SK_EINVAL ? SK_EXIT_USAGE : SK_EXIT_UNREACHABLE;
        goto out;
    }
    char job[SK_ID_MAX] = "";
    code = await_outcome(c, &o, req, job, sizeof job, false);
out:
    for (size_t i = 0; i < SK_MAX_BODIES; i++)
        free(files[i]);
    sk_params_free(params);
    sk_client_free(c);
    return code;
}

static int job_command(int argc, char **argv, int type)
{
    common_opts o;
    const char *job = NULL;
    sk_error err = SK_ERROR_INIT;
    common_defaults(&o);
    o.tenant = NULL;
    for (int i = 1; i < argc; i++) {
        int r = common_arg(&o, argc, argv, &i);
        if (r < 0)
            return SK_EXIT_USAGE;
        if (r > 0)
            continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: samskap %s JOB [--out DIR] [common options]\n\n%s\n\n%s", argv[0],
                   type == SK_MSG_WAIT ? "Prints a job's result, like submit does (--out DIR writes it as a CSV\n"
                                         "directory): a finished job's kept or journaled result, or, for a job\n"
                                         "submitted earlier and still running, its result when it is done.\n"
                                         "A result larger than a frame is downloaded in chunks first."
                                       : "Cancels a queued job, or tells the node running it to stop.",
                   common_help);
            return SK_EXIT_OK;
        }
        if (argv[i][0] == '-' || job != NULL) {
            fprintf(stderr, "samskap %s: unexpected argument '%s'\n", argv[0], argv[i]);
            return SK_EXIT_USAGE;
        }
        job = argv[i];
    }
    if (job == NULL || strlen(job) >= SK_ID_MAX) {
        fprintf(stderr, "usage: samskap %s JOB\n", argv[0]);
        return SK_EXIT_USAGE;
    }
    sk_client *c = open_client(&o, &err);
    if (c == NULL) {
        fprintf(stderr, "samskap: %s\n", err.msg);
        return SK_EXIT_UNREACHABLE;
    }
    int64_t req = sk_client_request(c, type, job, o.tenant, &err);
    if (req < 0) {
        fprintf(stderr, "samskap: %s\n", err.msg);
        sk_client_free(c);
        return SK_EXIT_UNREACHABLE;
    }
    char jobbuf[SK_ID_MAX];
    snprintf(jobbuf, sizeof jobbuf, "%s", job);
    int code = await_outcome(c, &o, req, jobbuf, sizeof jobbuf, false);
    /* For cancel, "cancelled" is success. */
    if (type == SK_MSG_CANCEL && code == SK_EXIT_FAILED && last_failure_code == SK_ECANCELED) {
        sk_client_free(c);
        return SK_EXIT_OK;
    }
    sk_client_free(c);
    return code;
}

int sk_cli_wait(int argc, char **argv)
{
    return job_command(argc, argv, SK_MSG_WAIT);
}

/* `samskap result JOB [--out DIR]`: a kept (or journaled) job's result;
 * the same request as wait, which also covers a job still running. */
int sk_cli_result(int argc, char **argv)
{
    return job_command(argc, argv, SK_MSG_WAIT);
}

int sk_cli_cancel(int argc, char **argv)
{
    return job_command(argc, argv, SK_MSG_CANCEL);
}

/* Ask the broker a query; returns the JSON text (malloc'ed) or NULL. */
static char *query(const common_opts *o, int type, const char *tenant, int *code)
{
    sk_error err = SK_ERROR_INIT;
    sk_client *c = open_client(o, &err);
    char *out = NULL;
    if (c == NULL) {
        fprintf(stderr, "samskap: %s\n", err.msg);
        *code = SK_EXIT_UNREACHABLE;
        return NULL;
    }
    int64_t req = sk_client_request(c, type, NULL, tenant, &err);
    for (;;) {
        sk_wire_msg m;
        int rc = req < 0 ? -1 : sk_client_recv(c, (int)(o->connect_timeout_s * 1000), &m, &err);
        if (rc <= 0) {
            fprintf(stderr, "samskap: no answer from the broker at %s%s%s\n", o->broker, rc < 0 ? ": " : "",
                    rc < 0 ? err.msg : "");
            *code = SK_EXIT_UNREACHABLE;
            break;
        }
        if (m.hdr.req == req && m.hdr.type == SK_MSG_REPLY && m.nbodies == 1) {
            size_t n = zmq_msg_size(&m.bodies[0]);
            out = malloc(n + 1);
            if (out) {
                memcpy(out, zmq_msg_data(&m.bodies[0]), n);
                out[n] = '\0';
            }
            sk_wire_msg_close(&m);
            *code = SK_EXIT_OK;
            break;
        }
        if (m.hdr.req == req && (m.hdr.type == SK_MSG_FAILED || m.hdr.type == SK_MSG_ERROR)) {
            fprintf(stderr, "samskap: %s\n", m.hdr.reason);
            sk_wire_msg_close(&m);
            *code = SK_EXIT_FAILED;
            break;
        }
        sk_wire_msg_close(&m);
    }
    sk_client_free(c);
    return out;
}

/* Tiny extraction from the broker's JSON replies for the human views: the
 * broker writes a fixed layout, so scanning for keys is enough here. */
static const char *json_field(const char *obj, const char *key, char *buf, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(obj, pat);
    buf[0] = '\0';
    if (p == NULL)
        return buf;
    p += strlen(pat);
    size_t i = 0;
    if (*p == '"') {
        p++;
        while (*p && *p != '"' && i + 1 < n)
            buf[i++] = *p++;
    } else if (*p == '[') {
        p++;
        while (*p && *p != ']' && i + 1 < n) {
            if (*p != '"')
                buf[i++] = *p;
            p++;
        }
    } else {
        while (*p && *p != ',' && *p != '}' && i + 1 < n)
            buf[i++] = *p++;
    }
    buf[i] = '\0';
    return buf;
}

static int list_command(int argc, char **argv, int type)
{
    common_opts o;
    int code = SK_EXIT_OK;
    common_defaults(&o);
    const char *tenant = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc) {
            tenant = argv[++i];
            continue;
        }
        int r = common_arg(&o, argc, argv, &i);
        if (r < 0)
            return SK_EXIT_USAGE;
        if (r > 0)
            continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: samskap %s [--json] [--broker ENDPOINT]%s\n\n%s\n", argv[0],
                   type == SK_MSG_JOBS ? " [--tenant T]" : "",
                   type == SK_MSG_JOBS ? "Lists queued and running jobs."
                   : strcmp(argv[0], "status") == 0
                       ? "The broker's picture: nodes, queues and counters (what /metrics shows)."
                       : "Lists live nodes with their services, load and tenants, and the queues.");
            return SK_EXIT_OK;
        }
        fprintf(stderr, "samskap %s: unexpected argument '%s'\n", argv[0], argv[i]);
        return SK_EXIT_USAGE;
    }
    char *json = query(&o, type, tenant, &code);
    if (json == NULL)
        return code;
    if (o.json) {
        printf("%s\n", json);
        free(json);
        return SK_EXIT_OK;
    }
    char a[512], b[64], c2[64], d[512], t[512];
    if (type == SK_MSG_STATUS) {
        printf("%-28s %5s %5s  %-40s %s\n", "NODE", "LOAD", "CAP", "SERVICES", "TENANTS");
        const char *p = strstr(json, "\"nodes\":[");
        const char *end = strstr(json, "],\"services\"");
        /* Each node object starts with "name"; nested objects do not. */
        for (p = p ? strstr(p, "{\"name\"") : NULL; p && end && p < end; p = strstr(p + 1, "{\"name\"")) {
            printf("%-28s %5s %5s  %-40s %s\n", json_field(p, "name", a, sizeof a), json_field(p, "load", b, sizeof b),
                   json_field(p, "capacity", c2, sizeof c2), json_field(p, "services", d, sizeof d),
                   json_field(p, "tenants", t, sizeof t));
        }
        printf("\n%-28s %8s %8s\n", "SERVICE", "QUEUED", "RUNNING");
        p = end ? strchr(end, '{') : NULL;
        const char *cend = strstr(json, "\"counters\"");
        if (cend == NULL) /* a client key's scoped view has no counters */
            cend = strstr(json, "\"scoped_to\"");
        if (cend == NULL)
            cend = json + strlen(json);
        for (; p && cend && p < cend; p = strchr(p + 1, '{'))
            printf("%-28s %8s %8s\n", json_field(p, "name", a, sizeof a), json_field(p, "queued", b, sizeof b),
                   json_field(p, "running", c2, sizeof c2));
        const char *cc = strstr(json, "\"code_conflicts\":[{");
        for (const char *q = cc; q != NULL; q = strstr(q + 1, "{\"service\":")) {
            char svc[128], nodes[256];
            if (q == cc)
                q = strstr(q, "{\"service\":");
            if (q == NULL)
                break;
            printf("\nwarning: %s runs different code on nodes %s (pin param plugin_hash to choose)\n",
                   json_field(q, "service", svc, sizeof svc), json_field(q, "nodes", nodes, sizeof nodes));
        }
        if (strcmp(argv[0], "status") == 0 && strstr(json, "\"counters\"") != NULL) {
            /* The counters, one per line: what /metrics also shows. */
            const char *c = strchr(cend, '{');
            const char *ce = c ? strchr(c, '}') : NULL;
            printf("\n");
            for (const char *q = c ? c + 1 : NULL; q && ce && q < ce;) {
                const char *colon = strchr(q, ':'), *comma = strchr(q, ',');
                if (colon == NULL || colon > ce)
                    break;
                if (comma == NULL || comma > ce)
                    comma = ce;
                printf("%-20.*s %.*s\n", (int)(colon - q - 2), q + 1, (int)(comma - colon - 1), colon + 1);
                q = comma + 1;
            }
            printf("%-20s %s\n", "secure", strstr(json, "\"secure\":true") ? "yes (CurveZMQ)" : "no (--insecure)");
        }
    } else {
        printf("%-28s %-16s %-10s %-8s %3s %-20s %s\n", "JOB", "SERVICE", "TENANT", "STATE", "TRY", "NODE", "AGE_S");
        for (const char *p = strchr(json + 1, '{'); p; p = strchr(p + 1, '{')) {
            char e[64], f[64], g[64];
            printf("%-28s %-16s %-10s %-8s %3s %-20s %s\n", json_field(p, "job", a, sizeof a),
                   json_field(p, "service", b, sizeof b), json_field(p, "tenant", c2, sizeof c2),
                   json_field(p, "state", d, sizeof d), json_field(p, "attempt", e, sizeof e),
                   json_field(p, "node", f, sizeof f), json_field(p, "age_s", g, sizeof g));
        }
    }
    free(json);
    return SK_EXIT_OK;
}

int sk_cli_services(int argc, char **argv)
{
    return list_command(argc, argv, SK_MSG_STATUS);
}

int sk_cli_status(int argc, char **argv)
{
    return list_command(argc, argv, SK_MSG_STATUS);
}

int sk_cli_jobs(int argc, char **argv)
{
    return list_command(argc, argv, SK_MSG_JOBS);
}

int sk_cli_keygen(int argc, char **argv)
{
    const char *out = NULL, *name = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: samskap keygen NAME --out FILE [--json]\n\n"
                   "Writes a CurveZMQ key pair to FILE (mode 0600) and its public half to FILE.pub,\n"
                   "and prints the public key.  Put the public key in the broker's access list:\n"
                   "    ROLE NAME PUBLIC-KEY TENANTS [SERVICES]\n"
                   "Existing files are never overwritten.\n");
            return SK_EXIT_OK;
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] != '-' && name == NULL) {
            name = argv[i];
        } else {
            fprintf(stderr, "samskap keygen: unexpected argument '%s' (see --help)\n", argv[i]);
            return SK_EXIT_USAGE;
        }
    }
    if (out == NULL || name == NULL) {
        fprintf(stderr, "usage: samskap keygen NAME --out FILE\n");
        return SK_EXIT_USAGE;
    }
    sk_keypair kp;
    sk_error err = SK_ERROR_INIT;
    if (sk_keygen(out, name, &kp, &err) < 0) {
        fprintf(stderr, "samskap keygen: %s\n", err.msg);
        return SK_EXIT_ERROR;
    }
    if (json)
        printf("{\"name\":\"%s\",\"public\":\"%s\",\"key_file\":\"%s\",\"public_file\":\"%s.pub\"}\n", name,
               kp.public_key, out, out);
    else
        printf("%s\n", kp.public_key);
    fprintf(stderr, "samskap keygen: wrote %s (secret, 0600) and %s.pub\n", out, out);
    explicit_bzero(&kp, sizeof kp);
    return SK_EXIT_OK;
}

int sk_cli_watch(int argc, char **argv)
{
    const char *events = getenv("SAMSKAP_EVENTS") && *getenv("SAMSKAP_EVENTS") ? getenv("SAMSKAP_EVENTS")
                                                                               : SK_DEFAULT_EVENTS;
    const char *tenant = NULL;
    common_opts o;
    common_defaults(&o);
    double seconds = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: samskap watch [--tenant T] [--events ENDPOINT] [--for SECONDS] [--json]\n"
                   "                     [--curve-key FILE --server-key FILE]\n\n"
                   "Shows job events (accepted, running, requeued, done, failed, cancelled) live.\n"
                   "Events are advisory: under load some may be dropped; `samskap jobs` and the\n"
                   "journal are the record.  Without --tenant it asks for every tenant, which only\n"
                   "an admin key (or an --insecure broker) may see.\n\n"
                   "  --events ENDPOINT   the broker's events endpoint (default $SAMSKAP_EVENTS or %s)\n"
                   "  --for SECONDS       stop after this long (default: until Ctrl-C)\n",
                   SK_DEFAULT_EVENTS);
            return SK_EXIT_OK;
        } else if (strcmp(a, "--events") == 0 && i + 1 < argc) {
            events = argv[++i];
        } else if (strcmp(a, "--tenant") == 0 && i + 1 < argc) {
            tenant = argv[++i];
        } else if (strcmp(a, "--for") == 0 && i + 1 < argc) {
            if (sk_parse_f64(argv[++i], &seconds) < 0 || seconds < 0) {
                fprintf(stderr, "samskap watch: --for needs seconds\n");
                return SK_EXIT_USAGE;
            }
        } else {
            int r = common_arg(&o, argc, argv, &i);
            if (r <= 0) {
                fprintf(stderr, "samskap watch: unexpected argument '%s' (see --help)\n", a);
                return SK_EXIT_USAGE;
            }
        }
    }
    sk_error err = SK_ERROR_INIT;
    void *ctx = zmq_ctx_new(), *sub = ctx ? zmq_socket(ctx, ZMQ_SUB) : NULL;
    int zero = 0;
    int code = SK_EXIT_OK;
    if (sub == NULL) {
        fprintf(stderr, "samskap watch: %s\n", zmq_strerror(errno));
        return SK_EXIT_ERROR;
    }
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    if (o.curve_key != NULL || o.server_key != NULL) {
        sk_keypair mine, server;
        if (o.curve_key == NULL || o.server_key == NULL || sk_key_read(o.curve_key, true, &mine, &err) < 0 ||
            sk_key_read(o.server_key, false, &server, &err) < 0) {
            fprintf(stderr, "samskap watch: %s\n", err.msg[0] ? err.msg : "CURVE needs --curve-key and --server-key");
            zmq_close(sub);
            zmq_ctx_term(ctx);
            return SK_EXIT_USAGE;
        }
        sk_curve cv = {server.public_key, mine.public_key, mine.secret_key};
        sk_curve_apply(sub, &cv, &err);
    }
    char topic[SK_ID_MAX + 2] = "";
    if (tenant != NULL)
        snprintf(topic, sizeof topic, "%s/", tenant);
    if (zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, strlen(topic)) < 0 || zmq_connect(sub, events) < 0) {
        fprintf(stderr, "samskap watch: cannot subscribe at %s: %s\n", events, zmq_strerror(errno));
        zmq_close(sub);
        zmq_ctx_term(ctx);
        return SK_EXIT_UNREACHABLE;
    }
    if (!o.json)
        fprintf(stderr, "samskap watch: %s, %s\n", events, tenant ? tenant : "all tenants");
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double el = (double)(now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9;
        if (seconds > 0 && el >= seconds)
            break;
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&it, 1, 200);
        if (rc < 0) {
            if (errno == EINTR)
                break;
            code = SK_EXIT_ERROR;
            break;
        }
        if (rc == 0)
            continue;
        char t[SK_ID_MAX + 2];
        if (zmq_recv(sub, t, sizeof t, 0) < 0)
            continue;
        sk_wire_msg m;
        if (sk_wire_recv(sub, false, &m, 0, &err) != 1) {
            fprintf(stderr, "samskap watch: %s\n", err.msg);
            continue;
        }
        sk_header *h = &m.hdr;
        if (o.json) {
            sk_buf b = SK_BUF_INIT;
            sk_buf_puts(&b, "{\"event\":");
            sk_json_str(&b, h->text);
            sk_buf_puts(&b, ",\"job\":");
            sk_json_str(&b, h->job);
            sk_buf_puts(&b, ",\"service\":");
            sk_json_str(&b, h->service);
            sk_buf_puts(&b, ",\"tenant\":");
            sk_json_str(&b, h->tenant);
            sk_buf_printf(&b, ",\"attempt\":%lld,\"node\":", (long long)h->attempt);
            sk_json_str(&b, h->node_name);
            sk_buf_puts(&b, ",\"reason\":");
            sk_json_str(&b, h->reason);
            sk_buf_puts(&b, "}\n");
            fputs(b.data, stdout);
            sk_buf_free(&b);
        } else {
            printf("%-10s %-28s %-24s %-8s try %lld%s%s%s%s\n", h->text, h->job, h->service, h->tenant,
                   (long long)h->attempt, h->node_name[0] ? " on " : "", h->node_name, h->reason[0] ? ": " : "",
                   h->reason);
        }
        fflush(stdout);
        sk_wire_msg_close(&m);
    }
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return code;
}

/* `samskap dataset put FILE` / `samskap dataset get HASH --out FILE`:
 * files by content hash, in chunks, verified on both ends. */
/* The next message answering request req, within 20 s: 1, or <=0.  Other
 * messages (outcomes of the caller's jobs) go to `other`, or are dropped
 * when it is NULL. */
static int await_req_or(sk_client *c, int64_t req, sk_wire_msg *m, sk_cli_other_fn other, void *ud, sk_error *err)
{
    for (int t = 0; t < 100; t++) {
        int rc = sk_client_recv(c, 200, m, err);
        if (rc < 0)
            return rc;
        if (rc == 1 && m->hdr.req == req)
            return 1;
        if (rc == 1) {
            if (other != NULL)
                other(ud, m);
            sk_wire_msg_close(m);
        }
    }
    return 0;
}

static int await_req(sk_client *c, int64_t req, sk_wire_msg *m, sk_error *err)
{
    return await_req_or(c, req, m, NULL, NULL, err);
}

/* `samskap dataset list --tenant T`: the broker's journal, one tenant. */
static int dataset_list(const common_opts *o, const char *extra)
{
    int code = SK_EXIT_OK;
    if (extra != NULL) {
        fprintf(stderr, "samskap dataset list: unexpected argument '%s'\n", extra);
        return SK_EXIT_USAGE;
    }
    char *json = query(o, SK_MSG_DATA_LIST, o->tenant, &code);
    if (json == NULL)
        return code;
    if (o->json) {
        printf("%s\n", json);
        free(json);
        return SK_EXIT_OK;
    }
    printf("%-71s %14s  %-20s %-20s %s\n", "HASH", "BYTES", "CREATED (UTC)", "LAST USED (UTC)", "NAME");
    for (const char *p = strstr(json, "{\"hash\":"); p != NULL; p = strstr(p + 1, "{\"hash\":")) {
        char hash[80], size[32], created[32], used[32], nm[SK_ID_MAX + 8], cdate[32] = "", udate[32] = "";
        json_field(p, "hash", hash, sizeof hash);
        json_field(p, "size", size, sizeof size);
        json_field(p, "created_ms", created, sizeof created);
        json_field(p, "last_used_ms", used, sizeof used);
        json_field(p, "name", nm, sizeof nm);
        const char *ms[2] = {created, used};
        char *out[2] = {cdate, udate};
        for (int k = 0; k < 2; k++) {
            int64_t v = 0;
            struct tm tm;
            time_t t;
            if (sk_parse_i64(ms[k], &v) == 0 && (t = (time_t)(v / 1000), gmtime_r(&t, &tm) != NULL))
                strftime(out[k], sizeof cdate, "%Y-%m-%d %H:%M:%S", &tm);
        }
        printf("%-71s %14s  %-20s %-20s %s\n", hash, size, cdate, udate, strcmp(nm, "null") == 0 ? "" : nm);
    }
    free(json);
    return SK_EXIT_OK;
}

/* Store data as a dataset of tenant, by its SHA-256, in chunks.  The first
 * chunk is empty: a dataset the broker already holds costs one round trip
 * (uploads are idempotent), so repeated runs do not resend their files. */
int sk_cli_dataset_upload(sk_client *c, const char *tenant, const char *name, const void *data, size_t len,
                          size_t chunk, char *hash, bool progress, sk_cli_other_fn other, void *ud, sk_error *err)
{
    sk_sha256_name(data, len, hash); /* a dataset's name: the SHA-256 of its bytes */
    int64_t off = 0;
    bool complete = false, probe = true;
    int rc = 0;
    while (!complete) {
        size_t n = probe ? 0 : len - (size_t)off < chunk ? len - (size_t)off : chunk;
        sk_header h;
        sk_header_init(&h, SK_MSG_DATA_PUT);
        sk_strlcpy(h.tenant, tenant, sizeof h.tenant);
        if (name != NULL)
            sk_strlcpy(h.name, name, sizeof h.name);
        sk_strlcpy(h.text, hash, sizeof h.text);
        h.offset = off;
        h.total = (int64_t)len;
        h.req = ++c->next_req;
        zmq_msg_t body;
        if (zmq_msg_init_size(&body, n) != 0)
            return sk_fail(err, SK_ENOMEM, "out of memory");
        if (n > 0)
            memcpy(zmq_msg_data(&body), (const char *)data + off, n);
        h.nbodies = 1;
        sk_strlcpy(h.body_names[0], "chunk", SK_ID_MAX);
        if (sk_wire_send(c->sock, NULL, 0, &h, &body, 1, 0) < 0) {
            zmq_msg_close(&body);
            rc = sk_fail(err, SK_ETIMEDOUT, "send failed: %s", zmq_strerror(errno));
            break;
        }
        sk_wire_msg m;
        int got = await_req_or(c, h.req, &m, other, ud, err);
        if (got != 1) {
            rc = sk_fail(err, SK_ETIMEDOUT, "no answer from the broker");
            break;
        }
        if (m.hdr.type != SK_MSG_REPLY) {
            /* A chunk larger than the broker's frame limit: again, smaller. */
            if (m.hdr.code == SK_ETOOBIG && m.hdr.capacity > 0 && (int64_t)chunk > m.hdr.capacity) {
                chunk = (size_t)m.hdr.capacity;
                sk_wire_msg_close(&m);
                continue;
            }
            /* A resumable upload: the broker says where it stands. */
            if (probe && m.hdr.offset > 0 && m.hdr.offset <= (int64_t)len) {
                off = m.hdr.offset;
                probe = false;
                sk_wire_msg_close(&m);
                continue;
            }
            rc = sk_fail(err, m.hdr.code ? m.hdr.code : SK_EREFUSED, "%s", m.hdr.reason);
            sk_wire_msg_close(&m);
            break;
        }
        off = m.hdr.offset;
        complete = m.hdr.code == 1;
        if (m.hdr.capacity > 0 && (int64_t)chunk > m.hdr.capacity)
            chunk = (size_t)m.hdr.capacity; /* the broker's frame limit (--max-frame) */
        if (complete && probe)
            rc = 1; /* held already: nothing sent */
        probe = false;
        sk_wire_msg_close(&m);
        if (!complete && progress)
            sk_cli_progress("upload", (double)off / (double)(len ? len : 1), hash + 7);
    }
    if (progress)
        sk_cli_progress_done();
    return rc;
}

int sk_cli_dataset(int argc, char **argv)
{
    common_opts o;
    common_defaults(&o);
    const char *verb = argc > 1 ? argv[1] : NULL, *arg = NULL, *name = NULL;
    int64_t chunk = 1 << 20;
    if (verb == NULL || strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 ||
        (strcmp(verb, "put") != 0 && strcmp(verb, "get") != 0 && strcmp(verb, "list") != 0)) {
        printf("usage: samskap dataset put FILE --tenant T [--name NAME] [--chunk BYTES] [--json]\n"
               "       samskap dataset get sha256:HEX --tenant T --out FILE\n"
               "       samskap dataset list --tenant T [--json]\n\n"
               "Stores a file at the broker by its SHA-256, in chunks (so files larger than one\n"
               "frame travel), and prints its name; jobs then use it with\n"
               "--input NAME=@sha256:HEX and nodes fetch it.  Names are scoped per tenant.\n"
               "list shows the tenant's datasets (hash, size, created, last used, name).\n"
               "Needs a broker with --data-dir.\n");
        return verb == NULL ? SK_EXIT_USAGE : SK_EXIT_OK;
    }
    for (int i = 2; i < argc; i++) {
        int r = common_arg(&o, argc, argv, &i);
        if (r < 0)
            return SK_EXIT_USAGE;
        if (r > 0)
            continue;
        if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            name = argv[++i];
            if (strlen(name) >= SK_ID_MAX) {
                fprintf(stderr, "samskap dataset: --name must be shorter than %d bytes\n", SK_ID_MAX);
                return SK_EXIT_USAGE;
            }
        } else if (strcmp(argv[i], "--chunk") == 0 && i + 1 < argc) {
            if (sk_parse_i64(argv[++i], &chunk) < 0 || chunk < 1024 || chunk > SK_MAX_FRAME - 65536) {
                fprintf(stderr, "samskap dataset: --chunk must be in 1024..%lld\n", (long long)(SK_MAX_FRAME - 65536));
                return SK_EXIT_USAGE;
            }
        } else if (argv[i][0] != '-' && arg == NULL) {
            arg = argv[i];
        } else {
            fprintf(stderr, "samskap dataset: unexpected argument '%s'\n", argv[i]);
            return SK_EXIT_USAGE;
        }
    }
    if (strcmp(verb, "list") == 0)
        return dataset_list(&o, arg);
    if (arg == NULL || (strcmp(verb, "get") == 0 && o.out_dir == NULL)) {
        fprintf(stderr, "samskap dataset: see --help\n");
        return SK_EXIT_USAGE;
    }
    sk_error err = SK_ERROR_INIT;
    sk_client *c = open_client(&o, &err);
    if (c == NULL) {
        fprintf(stderr, "samskap dataset: %s\n", err.msg);
        return SK_EXIT_UNREACHABLE;
    }
    int code = SK_EXIT_OK;
    if (strcmp(verb, "put") == 0) {
        size_t len;
        char *data = sk_read_file(arg, &len, (size_t)16 << 30, &err);
        if (data == NULL) {
            fprintf(stderr, "samskap dataset: %s\n", err.msg);
            sk_client_free(c);
            return SK_EXIT_ERROR;
        }
        char hash[SK_HASH_NAME_LEN];
        if (sk_cli_dataset_upload(c, o.tenant, name, data, len, (size_t)chunk, hash, isatty(2), NULL, NULL, &err) < 0) {
            fprintf(stderr, "samskap dataset: %s\n", err.msg);
            code = err.code == SK_ETIMEDOUT ? SK_EXIT_UNREACHABLE : SK_EXIT_FAILED;
        }
        sk_cli_progress_done();
        if (code == SK_EXIT_OK) {
            if (o.json)
                printf("{\"hash\":\"%s\",\"size\":%zu,\"tenant\":\"%s\"}\n", hash, len, o.tenant);
            else
                printf("%s\n", hash);
        }
        free(data);
    } else {
        FILE *f = fopen(o.out_dir, "wb");
        if (f == NULL) {
            fprintf(stderr, "samskap dataset: %s: %s\n", o.out_dir, strerror(errno));
            sk_client_free(c);
            return SK_EXIT_ERROR;
        }
        sk_sha256_state st;
        sk_sha256_init(&st);
        int64_t off = 0, total = -1;
        while (total < 0 || off < total) {
            sk_header h;
            sk_header_init(&h, SK_MSG_DATA_GET);
            sk_strlcpy(h.tenant, o.tenant, sizeof h.tenant);
            sk_strlcpy(h.text, arg, sizeof h.text);
            h.offset = off;
            h.total = chunk;
            h.req = ++c->next_req;
            if (sk_wire_send(c->sock, NULL, 0, &h, NULL, 0, 0) < 0) {
                code = SK_EXIT_UNREACHABLE;
                break;
            }
            sk_wire_msg m;
            int rc = await_req(c, h.req, &m, &err);
            if (rc != 1) {
                code = SK_EXIT_UNREACHABLE;
                fprintf(stderr, "samskap dataset: no answer from the broker at %s\n", o.broker);
                break;
            }
            if (m.hdr.type != SK_MSG_REPLY || m.nbodies != 1) {
                fprintf(stderr, "samskap dataset: %s\n", m.hdr.reason);
                sk_wire_msg_close(&m);
                code = SK_EXIT_FAILED;
                break;
            }
            total = m.hdr.total;
            size_t n = zmq_msg_size(&m.bodies[0]);
            fwrite(zmq_msg_data(&m.bodies[0]), 1, n, f);
            sk_sha256_update(&st, zmq_msg_data(&m.bodies[0]), n);
            off += (int64_t)n;
            sk_wire_msg_close(&m);
            if (n == 0 && off < total) {
                code = SK_EXIT_ERROR;
                break;
            }
        }
        fclose(f);
        if (code == SK_EXIT_OK) {
            unsigned char d[32];
            char got[80];
            sk_sha256_final(&st, d);
            sk_sha256_format(d, got);
            if (strcmp(got, arg) != 0) {
                fprintf(stderr, "samskap dataset: downloaded bytes hash to %s, not %s: removed\n", got, arg);
                unlink(o.out_dir);
                code = SK_EXIT_FAILED;
            } else {
                fprintf(stderr, "samskap dataset: %lld bytes written to %s (verified)\n", (long long)off, o.out_dir);
            }
        } else {
            unlink(o.out_dir);
        }
    }
    sk_client_free(c);
    return code;
}
