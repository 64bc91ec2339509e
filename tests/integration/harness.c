/* harness.c - process control for integration tests (see harness.h). */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static pid_t children[64];
static int nchildren;
static const char *test_name = "test";

static char logfiles[64][256];
static int nlogfiles;

/* At exit: stop children gracefully (so sanitizers report leaks), then fail
 * the test if any of its processes logged a sanitizer report. */
static void kill_all(void)
{
    for (int i = 0; i < nchildren; i++)
        if (children[i] > 0)
            kill(children[i], SIGTERM);
    for (int i = 0; i < nchildren; i++) {
        if (children[i] <= 0)
            continue;
        int done = 0;
        for (int k = 0; k < 500 && !done; k++) {
            if (waitpid(children[i], NULL, WNOHANG) == children[i])
                done = 1;
            else
                usleep(10000);
        }
        if (!done) {
            kill(children[i], SIGKILL);
            waitpid(children[i], NULL, 0);
        }
        children[i] = 0;
    }
    for (int i = 0; i < nlogfiles; i++) {
        FILE *f = fopen(logfiles[i], "r");
        char line[1024];
        int bad = 0;
        while (f && fgets(line, sizeof line, f))
            if (strstr(line, "Sanitizer") || strstr(line, "runtime error:"))
                bad = 1;
        if (f)
            fclose(f);
        if (bad) {
            fprintf(stderr, "%s: sanitizer report in %s\n", test_name, logfiles[i]);
            _exit(1);
        }
    }
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test timed out (alarm); killing its processes\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    for (int i = 0; i < nchildren; i++)
        if (children[i] > 0)
            kill(children[i], SIGKILL);
    _exit(1);
}

long h_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void h_init(const char *name, int seconds)
{
    test_name = name;
    atexit(kill_all);
    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned)seconds);
}

int h_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(s, (struct sockaddr *)&a, &len) < 0) {
        perror("free_port");
        exit(1);
    }
    close(s);
    return ntohs(a.sin_port);
}

void h_cluster_init(sk_cluster *c)
{
    memset(c, 0, sizeof c[0]);
    c->front_port = h_free_port();
    do
        c->back_port = h_free_port();
    while (c->back_port == c->front_port);
    snprintf(c->front, sizeof c->front, "tcp://127.0.0.1:%d", c->front_port);
    snprintf(c->back, sizeof c->back, "tcp://127.0.0.1:%d", c->back_port);
    const char *build = getenv("SAMSKAP_BUILD");
    snprintf(c->logdir, sizeof c->logdir, "%s/tests/logs", build ? build : ".");
    mkdir(c->logdir, 0777);
}

const char *h_bin(const char *name)
{
    static char path[8][512];
    static int slot;
    const char *build = getenv("SAMSKAP_BUILD");
    char *p = path[slot++ % 8];
    snprintf(p, 512, "%s/%s", build ? build : ".", name);
    return p;
}

/* fork + exec rather than posix_spawn: the child asks the kernel to kill
 * it when the test process dies.  A sanitizer report ends a test with
 * abort() or _exit(), which skip atexit(kill_all), and its broker and
 * nodes would otherwise live on, holding ports and CPU. */
static pid_t spawn(char *const argv[], const char *log)
{
    int seen = 0;
    for (int i = 0; i < nlogfiles; i++)
        if (strcmp(logfiles[i], log) == 0)
            seen = 1;
    if (!seen && nlogfiles < 64)
        snprintf(logfiles[nlogfiles++], sizeof logfiles[0], "%s", log);
    if (access(argv[0], X_OK) < 0) {
        fprintf(stderr, "%s: cannot start %s: %s\n", test_name, argv[0], strerror(errno));
        exit(1);
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: cannot start %s: %s\n", test_name, argv[0], strerror(errno));
        exit(1);
    }
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
            _exit(127); /* the test is gone already */
        int fd = open(log, O_WRONLY | O_CREAT | (seen ? O_APPEND : O_TRUNC), 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(127);
        if (fd > 2)
            close(fd);
        execve(argv[0], argv, environ);
        dprintf(2, "%s: cannot start %s: %s\n", test_name, argv[0], strerror(errno));
        _exit(127);
    }
    if (nchildren < 64)
        children[nchildren++] = pid;
    return pid;
}

/* Split extra args on spaces into argv (in place in a static buffer). */
static int add_args(char **argv, int argc, const char *extra, char *buf, size_t n)
{
    if (extra == NULL)
        return argc;
    snprintf(buf, n, "%s", extra);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t && argc < 30; t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    return argc;
}

pid_t h_start_broker(sk_cluster *c, const char *extra)
{
    static char buf[512];
    char log[256];
    char *argv[32] = {(char *)h_bin("samskap-broker"), "--frontend", c->front, "--backend", c->back};
    int argc = add_args(argv, 5, extra, buf, sizeof buf);
    if (extra == NULL || strstr(extra, "--curve-secret") == NULL)
        argv[argc++] = "--insecure";
    argv[argc] = NULL;
    snprintf(log, sizeof log, "%s/%s.broker.log", c->logdir, test_name);
    c->broker = spawn(argv, log);
    return c->broker;
}

pid_t h_start_node(sk_cluster *c, const char *name, int jobs, const char *extra)
{
    static char buf[512];
    char log[256], jobs_s[16];
    snprintf(jobs_s, sizeof jobs_s, "%d", jobs);
    char *argv[32] = {(char *)h_bin("samskap-node"), "--broker", c->back, "--jobs", jobs_s, "--name", (char *)name};
    int argc = add_args(argv, 7, extra, buf, sizeof buf);
    argv[argc] = NULL;
    snprintf(log, sizeof log, "%s/%s.node-%s.log", c->logdir, test_name, name);
    pid_t pid = spawn(argv, log);
    if (c->nnodes < 8)
        c->nodes[c->nnodes++] = pid;
    return pid;
}

void h_kill(pid_t pid, int sig)
{
    kill(pid, sig);
    for (int i = 0; i < 500; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            break;
        usleep(10000);
        if (i == 499) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    for (int i = 0; i < nchildren; i++)
        if (children[i] == pid)
            children[i] = 0;
}

char *h_status(sk_cluster *c)
{
    sk_error err = SK_ERROR_INIT;
    sk_client *cl = sk_client_new(c->front, &err);
    char *out = NULL;
    if (cl == NULL)
        return NULL;
    int64_t req = sk_client_request(cl, SK_MSG_STATUS, NULL, NULL, &err);
    sk_wire_msg m;
    while (req > 0 && sk_client_recv(cl, 2000, &m, &err) == 1) {
        if (m.hdr.type == SK_MSG_REPLY && m.hdr.req == req && m.nbodies == 1) {
            size_t n = zmq_msg_size(&m.bodies[0]);
            out = malloc(n + 1);
            memcpy(out, zmq_msg_data(&m.bodies[0]), n);
            out[n] = '\0';
            sk_wire_msg_close(&m);
            break;
        }
        sk_wire_msg_close(&m);
    }
    sk_client_free(cl);
    return out;
}

long h_counter(const char *json, const char *name)
{
    char pat[64];
    if (json == NULL)
        return -1;
    snprintf(pat, sizeof pat, "\"%s\":", name);
    const char *p = strstr(json, pat);
    return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

void h_wait_nodes(sk_cluster *c, int n, int timeout_ms)
{
    long end = h_now_ms() + timeout_ms;
    while (h_now_ms() < end) {
        char *s = h_status(c);
        int count = 0;
        for (const char *p = s ? strstr(s, "\"capacity\":") : NULL; p; p = strstr(p + 1, "\"capacity\":"))
            count++;
        free(s);
        if (count >= n)
            return;
        usleep(50000);
    }
    fprintf(stderr, "%s: %d node(s) did not join within %d ms\n", test_name, n, timeout_ms);
    exit(1);
}

int h_cli(sk_cluster *c, char *out, size_t outlen, const char *fmt, ...)
{
    char args[1024], cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s --broker %s", h_bin("samskap"), args, c->front);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    size_t n = 0;
    if (out != NULL && outlen > 0) {
        n = fread(out, 1, outlen - 1, p);
        out[n] = '\0';
    } else {
        char sink[4096];
        while (fread(sink, 1, sizeof sink, p) > 0) {
        }
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
