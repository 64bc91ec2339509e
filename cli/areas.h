/* areas.h - `samskap areas assign`: element -> area maps for real data. */
#ifndef SK_CLI_AREAS_H
#define SK_CLI_AREAS_H

/* argv[0] is "areas"; returns a samskap exit code (0 ok, 1 error, 2 usage). */
int sk_cli_areas_main(int argc, char **argv);

#endif
