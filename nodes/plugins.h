/* plugins.h - indicator plugins offered by a node as `indicator.<name>`.
 *
 * A plugin set is one load of the plugin directory.  Jobs hold a reference
 * to the set they started on, so a reload (a file changed) swaps in a fresh
 * set while running jobs finish on the old code.  Loop thread only. */
#ifndef SK_NODE_PLUGINS_H
#define SK_NODE_PLUGINS_H

#include <stddef.h>

#include "sk_sim.h"

typedef struct plugin_set {
    int refs;
    void *dir;                /* sk_lua_plugin_dir */
    size_t n;
    sk_service_def *defs;     /* one per loaded plugin */
    char (*names)[72];
    char signature[80];       /* of the directory listing, to notice changes */
} plugin_set;

/* Load DIR; plugins that fail are logged and skipped.  NULL only on OOM or
 * an unreadable directory (err set). */
plugin_set *plugin_set_load(const char *dir, sk_error *err);
void plugin_set_ref(plugin_set *s);
void plugin_set_unref(plugin_set *s);
/* Signature of the *.lua files in dir (names, sizes, mtimes). */
void plugin_dir_signature(const char *dir, char *out, size_t n);

#endif
