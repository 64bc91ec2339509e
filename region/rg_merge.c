/* rg_merge.c - placeholder while the generator is brought up. */
#include "rg_internal.h"
int sk_region_merge(const char *indir, const char *spec_path, const char *outdir, sk_region_summary *sum, sk_region_error *err)
{ (void)indir; (void)spec_path; (void)outdir; (void)sum; return rg_fail(err, SK_REGION_EINVAL, "todo"); }
