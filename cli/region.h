/* region.h - `samskap region`: generate and merge synthetic regions. */
#ifndef SK_CLI_REGION_H
#define SK_CLI_REGION_H

/* argv[0] is "region"; returns a samskap exit code (0 ok, 1 error, 2 usage). */
int sk_cli_region_main(int argc, char **argv);

#endif
