/* region.h - the region configuration: municipalities and merged regions
 * with their members' validity periods (deploy/region.lua, read as data).
 *
 * A merged region may read its members' jobs and results for the period in
 * which they were members: Haram (1534) belonged to Ålesund (1507) from
 * 2020-01-01 to 2023-12-31, so a 1507 key reads Haram's jobs submitted in
 * those years and not later ones.  A member never reads another member's. */
#ifndef SK_REGION_CONF_H
#define SK_REGION_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sk_error.h"

typedef struct sk_membership {
    char region[64];
    char member[64];
    int32_t from_day, to_day;   /* days since 1970-01-01, inclusive; to_day INT32_MAX = open */
} sk_membership;

typedef struct sk_region_conf {
    size_t nmunicipalities;
    char (*municipalities)[64];
    char (*names)[128];
    size_t n;
    sk_membership *members;
} sk_region_conf;

int sk_region_conf_read(const char *path, sk_region_conf **out, sk_error *err);
void sk_region_conf_free(sk_region_conf *c);
/* Was `member` part of `region` on the day of wall-clock time ms? */
bool sk_region_member_at(const sk_region_conf *c, const char *region, const char *member, int64_t wall_ms);

#endif
