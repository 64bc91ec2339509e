/* plugin.h - `samskap plugin run|test|check|list`: indicator plugins from
 * the command line (docs/plugins.md).  Data goes to stdout, diagnostics to
 * stderr; --json for programs. */
#ifndef SK_CLI_PLUGIN_H
#define SK_CLI_PLUGIN_H

/* argv[0] is "plugin"; returns the process exit code (0 ok, 1 failure,
 * 2 usage). */
int sk_cli_plugin_main(int argc, char **argv);

#endif
