/* sk_result_json.c - a result as one JSON document, for `--json` output. */
#include <stdlib.h>
#include <string.h>

#include "sk_buf.h"
#include "sk_result.h"

static void column_json(sk_buf *b, const sk_column *c)
{
    sk_buf_puts(b, "[");
    for (size_t i = 0; i < c->len; i++) {
        if (i)
            sk_buf_puts(b, ",");
        switch (c->dtype) {
        case SK_DT_F64: sk_json_f64(b, ((const double *)c->data)[i]); break;
        case SK_DT_I32: sk_json_i64(b, ((const int32_t *)c->data)[i]); break;
        case SK_DT_I64: sk_json_i64(b, ((const int64_t *)c->data)[i]); break;
        case SK_DT_STR: sk_json_str(b, ((char *const *)c->data)[i]); break;
        }
    }
    sk_buf_puts(b, "]");
}

char *sk_result_to_json(const sk_result *r, size_t max_rows)
{
    char *summary = sk_result_summary_json(r);
    if (summary == NULL)
        return NULL;
    sk_buf b = SK_BUF_INIT;
    /* Reuse the summary object: drop its own closing brace (and newline)
     * and append "data". */
    size_t slen = strlen(summary);
    while (slen > 0 && summary[slen - 1] == '\n')
        slen--;
    if (slen > 0 && summary[slen - 1] == '}')
        slen--;
    sk_buf_append(&b, summary, slen);
    free(summary);
    sk_buf_puts(&b, ",\"data\":{");
    bool first = true;
    sk_buf omitted = SK_BUF_INIT;
    for (size_t t = 0; t < r->ntables; t++) {
        const sk_table *tb = &r->tables[t];
        if (max_rows > 0 && sk_table_rows(tb) > max_rows) {
            sk_buf_puts(&omitted, omitted.len ? "," : "");
            sk_json_str(&omitted, tb->name);
            continue;
        }
        sk_json_key(&b, tb->name, first);
        first = false;
        sk_buf_puts(&b, "{\"ids\":[");
        for (size_t e = 0; e < tb->nelem; e++) {
            if (e)
                sk_buf_puts(&b, ",");
            if (tb->ids_str)
                sk_json_str(&b, tb->ids_str[e]);
            else if (tb->ids_int)
                sk_json_i64(&b, tb->ids_int[e]);
            else
                sk_json_i64(&b, (int64_t)e + 1);
        }
        sk_buf_puts(&b, "],\"periods\":[");
        for (size_t p = 0; p < tb->nperiods; p++) {
            if (p)
                sk_buf_puts(&b, ",");
            sk_json_i64(&b, tb->period_s[p]);
        }
        sk_buf_puts(&b, "],\"units\":{");
        for (size_t c = 0; c < tb->ncols; c++) {
            sk_json_key(&b, tb->cols[c].name, c == 0);
            sk_json_str(&b, tb->cols[c].unit);
        }
        sk_buf_puts(&b, "},\"columns\":{");
        for (size_t c = 0; c < tb->ncols; c++) {
            sk_json_key(&b, tb->cols[c].name, c == 0);
            column_json(&b, &tb->cols[c]);
        }
        sk_buf_puts(&b, "}}");
    }
    sk_buf_puts(&b, "},\"data_omitted\":[");
    if (omitted.len)
        sk_buf_append(&b, omitted.data, omitted.len);
    sk_buf_puts(&b, "]}");
    sk_buf_free(&omitted);
    if (b.oom) {
        sk_buf_free(&b);
        return NULL;
    }
    return sk_buf_steal(&b, NULL);
}
