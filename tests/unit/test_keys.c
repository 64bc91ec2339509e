/* test_keys.c - key files and the access list: good input is read, and
 * malformed input is refused with a message naming file, line and reason. */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sk_keys.h"
#include "test_util.h"

static void expect_access_error(const char *text, const char *needle)
{
    sk_access *a = NULL;
    sk_error err = SK_ERROR_INIT;
    int rc = sk_access_parse(text, strlen(text), "access.conf", &a, &err);
    CHECK(rc < 0);
    if (rc < 0 && strstr(err.msg, needle) == NULL) {
        fprintf(stderr, "expected '%s' in '%s'\n", needle, err.msg);
        test_failures++;
    }
    sk_access_free(a);
}

int main(void)
{
    char dir[] = "/tmp/sk_keys_XXXXXX", path[256], pub[300];
    sk_error err = SK_ERROR_INIT;
    sk_keypair kp, back;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/node.key", dir);
    CHECK(sk_keygen(path, "node-1", &kp, &err) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(sk_key_read(path, true, &back, &err) == 0 && strcmp(back.public_key, kp.public_key) == 0);
    snprintf(pub, sizeof pub, "%s.pub", path);
    CHECK(sk_key_read(pub, false, &back, &err) == 0 && back.secret_key[0] == '\0');
    CHECK(sk_key_read(pub, true, &back, &err) < 0 && strstr(err.msg, "public key file") != NULL);
    CHECK(sk_keygen(path, "again", &kp, &err) < 0 && strstr(err.msg, "not overwriting") != NULL);
    chmod(path, 0640);
    CHECK(sk_key_read(path, true, &back, &err) == SK_EREFUSED && strstr(err.msg, "chmod 600") != NULL);
    chmod(path, 0600);
    /* A damaged key file: line named. */
    snprintf(path, sizeof path, "%s/bad.key", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "# comment\npublic = tooshort\n");
    fclose(f);
    chmod(path, 0600);
    CHECK(sk_key_read(path, false, &back, &err) < 0 && strstr(err.msg, "bad.key:2") != NULL);
    f = fopen(path, "w");
    fprintf(f, "public = %s\nsecret = %s\n", kp.public_key, kp.public_key); /* secret does not match */
    fclose(f);
    chmod(path, 0600);
    CHECK(sk_key_read(path, true, &back, &err) < 0 && strstr(err.msg, "does not belong") != NULL);
    CHECK(sk_key_read("/nonexistent/x.key", true, &back, &err) < 0 && strstr(err.msg, "/nonexistent/x.key") != NULL);

    /* The access list. */
    char good[512], cpath[300];
    sk_keypair ck;
    snprintf(cpath, sizeof cpath, "%s/client.key", dir);
    CHECK(sk_keygen(cpath, "c1", &ck, &err) == 0);
    snprintf(good, sizeof good, "# role name key tenants services\nnode n1 %s 1504,1507 sim.water\n\nclient c1 %s *\n",
             kp.public_key, ck.public_key);
    sk_access *a = NULL;
    int rc = sk_access_parse(good, strlen(good), "access.conf", &a, &err);
    if (rc < 0)
        fprintf(stderr, "%s\n", err.msg);
    CHECK(rc == 0 && a != NULL && a->n == 2);
    if (a != NULL && a->n == 2) {
        CHECK(a->items[0].role == SK_ROLE_NODE && sk_list_allows(a->items[0].tenants, "1507"));
        CHECK(!sk_list_allows(a->items[0].tenants, "1534"));
        CHECK(sk_list_allows(a->items[0].services, "sim.water") && !sk_list_allows(a->items[0].services, "sim.power"));
        CHECK(sk_list_allows(a->items[1].services, "anything")); /* default services: * */
        CHECK(sk_access_by_key(a, kp.public_key) == &a->items[0]);
        CHECK(sk_access_by_name(a, "c1") == &a->items[1]);
    }
    sk_access_free(a);
    char line[512];
    snprintf(line, sizeof line, "operator x %s *\n", kp.public_key);
    expect_access_error(line, "access.conf:1: role 'operator'");
    expect_access_error("node n1 notakey 1504\n", "access.conf:1: key of 'n1'");
    expect_access_error("# c\nnode n1\n", "access.conf:2: expected ROLE NAME PUBLIC-KEY TENANTS");
    snprintf(line, sizeof line, "node n1 %s 1504\nclient n1 %s 1504\n", kp.public_key, kp.public_key);
    expect_access_error(line, "access.conf:2: name 'n1' or its key is listed twice");
    snprintf(line, sizeof line, "node n1 %s 1504 s1 extra\n", kp.public_key);
    expect_access_error(line, "access.conf:1: expected");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    TEST_DONE();
}
