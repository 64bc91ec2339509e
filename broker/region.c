/* region.c - reading the region configuration (see region.h). */
#include "region.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_config.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * civil-from-days inverse). */
static int32_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int parse_date(const char *s, int32_t *out)
{
    int y, m, d;
    char tail;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 1900 || y > 9999 || m < 1 || m > 12 || d < 1 ||
        d > mdays[m - 1])
        return -1;
    *out = days_from_civil(y, m, d);
    return 0;
}

static const char *str_field(const sk_cval *t, const char *key)
{
    const sk_cval *v = sk_cval_get(t, key);
    return v != NULL && v->type == SK_CVAL_STR ? v->s : NULL;
}

void sk_region_conf_free(sk_region_conf *c)
{
    if (c == NULL)
        return;
    free(c->municipalities);
    free(c->names);
    free(c->members);
    free(c);
}

static bool known(const sk_region_conf *c, const char *id)
{
    for (size_t i = 0; i < c->nmunicipalities; i++)
        if (strcmp(c->municipalities[i], id) == 0)
            return true;
    return false;
}

int sk_region_conf_read(const char *path, sk_region_conf **out, sk_error *err)
{
    sk_config *conf = NULL;
    sk_region_conf *c = calloc(1, sizeof *c);
    int rc = SK_EINVAL;
    if (c == NULL)
        return sk_fail(err, SK_ENOMEM, "out of memory");
    if (sk_config_read(path, &conf, err) < 0) {
        free(c);
        return err->code ? err->code : SK_EINVAL;
    }
    const sk_cval *root = sk_config_root(conf);
    const sk_cval *munis = sk_cval_get(root, "municipalities"), *regions = sk_cval_get(root, "regions");
    if (munis == NULL || munis->type != SK_CVAL_TABLE) {
        sk_fail(err, SK_EINVAL, "%s: 'municipalities' must be a list of { id = ..., name = ... }", path);
        goto out;
    }
    c->municipalities = calloc(munis->n + 1, sizeof *c->municipalities);
    c->names = calloc(munis->n + 1, sizeof *c->names);
    if (c->municipalities == NULL || c->names == NULL) {
        sk_fail(err, SK_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < munis->n; i++) {
        const sk_cval *m = &munis->items[i].val;
        const char *id = m->type == SK_CVAL_TABLE ? str_field(m, "id") : NULL;
        const char *name = m->type == SK_CVAL_TABLE ? str_field(m, "name") : NULL;
        if (id == NULL || id[0] == '\0' || strlen(id) >= 64 || name == NULL) {
            sk_fail(err, SK_EINVAL, "%s:%d: a municipality needs id (ASCII, under 64 bytes) and name", path, m->line);
            goto out;
        }
        for (const char *p = id; *p; p++)
            if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
                sk_fail(err, SK_EINVAL, "%s:%d: municipality id '%s' must be printable ASCII", path, m->line, id);
                goto out;
            }
        if (known(c, id)) {
            sk_fail(err, SK_EINVAL, "%s:%d: municipality '%s' listed twice", path, m->line, id);
            goto out;
        }
        sk_strlcpy(c->municipalities[c->nmunicipalities], id, 64);
        sk_strlcpy(c->names[c->nmunicipalities], name, 128);
        c->nmunicipalities++;
    }
    size_t cap = 0;
    for (size_t r = 0; regions != NULL && regions->type == SK_CVAL_TABLE && r < regions->n; r++) {
        const sk_cval *reg = &regions->items[r].val;
        const char *rid = reg->type == SK_CVAL_TABLE ? str_field(reg, "id") : NULL;
        const sk_cval *members = reg->type == SK_CVAL_TABLE ? sk_cval_get(reg, "members") : NULL;
        if (rid == NULL || strlen(rid) >= 64 || members == NULL || members->type != SK_CVAL_TABLE) {
            sk_fail(err, SK_EINVAL, "%s:%d: a region needs id and members = { { id = ..., from = \"YYYY-MM-DD\" } }",
                    path, reg->line);
            goto out;
        }
        for (size_t k = 0; k < members->n; k++) {
            const sk_cval *mb = &members->items[k].val;
            const char *mid = mb->type == SK_CVAL_TABLE ? str_field(mb, "id") : NULL;
            const char *from = mb->type == SK_CVAL_TABLE ? str_field(mb, "from") : NULL;
            const char *to = mb->type == SK_CVAL_TABLE ? str_field(mb, "to") : NULL;
            int32_t fd, td = INT32_MAX;
            if (mid == NULL || !known(c, mid)) {
                sk_fail(err, SK_EINVAL, "%s:%d: member '%s' of region %s is not a listed municipality", path,
                        mb->line, mid ? mid : "?", rid);
                goto out;
            }
            if (from == NULL || parse_date(from, &fd) < 0 || (to != NULL && parse_date(to, &td) < 0)) {
                sk_fail(err, SK_EINVAL, "%s:%d: member %s: from and to must be dates YYYY-MM-DD", path, mb->line, mid);
                goto out;
            }
            if (td < fd) {
                sk_fail(err, SK_EINVAL, "%s:%d: member %s: 'to' is before 'from'", path, mb->line, mid);
                goto out;
            }
            if (c->n == cap) {
                cap = cap ? cap * 2 : 8;
                sk_membership *nm = realloc(c->members, cap * sizeof *nm);
                if (nm == NULL) {
                    sk_fail(err, SK_ENOMEM, "out of memory");
                    goto out;
                }
                c->members = nm;
            }
            sk_membership *ms = &c->members[c->n++];
            sk_strlcpy(ms->region, rid, sizeof ms->region);
            sk_strlcpy(ms->member, mid, sizeof ms->member);
            ms->from_day = fd;
            ms->to_day = td;
        }
    }
    rc = 0;
    *out = c;
out:
    sk_config_free(conf);
    if (rc < 0)
        sk_region_conf_free(c);
    return rc;
}

bool sk_region_member_at(const sk_region_conf *c, const char *region, const char *member, int64_t wall_ms)
{
    if (c == NULL)
        return false;
    int32_t day = (int32_t)(wall_ms / 86400000);
    for (size_t i = 0; i < c->n; i++) {
        const sk_membership *m = &c->members[i];
        if (strcmp(m->region, region) == 0 && strcmp(m->member, member) == 0 && day >= m->from_day &&
            day <= m->to_day)
            return true;
    }
    return false;
}
