/* plugin_cli_main.c - a stand-alone `samskap plugin ...` for the tests,
 * until the samskap main (cli/) wires sk_cli_plugin_main in:
 *     samskap-plugin-cli plugin test plugins/
 * It takes the user's locale as a real CLI would, so the tests show that
 * a decimal-comma locale (nb_NO) changes nothing. */
#include <locale.h>

#include "plugin.h"

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    return sk_cli_plugin_main(argc - 1, argv + 1);
}
