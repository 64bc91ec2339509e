/* plugin_cli_main.c - a stand-alone `samskap plugin ...` for the tests,
 * until the samskap main (cli/) wires sk_cli_plugin_main in:
 *     samskap-plugin-cli plugin test plugins/ */
#include "plugin.h"

int main(int argc, char **argv)
{
    return sk_cli_plugin_main(argc - 1, argv + 1);
}
