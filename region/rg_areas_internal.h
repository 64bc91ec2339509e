/* rg_areas_internal.h - the polygon store shared by the GeoJSON reader,
 * point location and the writers of the area tools. */
#ifndef RG_AREAS_INTERNAL_H
#define RG_AREAS_INTERNAL_H

#include "rg_internal.h"
#include "sk_areas.h"

typedef struct rg_ring {
    long pt0, npt;           /* into xy (pairs); the closing point is not stored */
} rg_ring;

typedef struct rg_poly {
    int area;
    long feature;            /* 0-based, for messages */
    long ring0, nring;       /* the outer ring first, then the holes */
    double x0, y0, x1, y1;   /* bounding box of the outer ring */
} rg_poly;

struct sk_areas_map {
    char **code, **name;
    double *pop;
    int narea, caparea;
    rg_poly *poly;
    long npoly, cappoly;
    rg_ring *ring;
    long nring, capring;
    double *xy;
    long npt, cappt;         /* cappt counts doubles */
    rg_buf warn;
};

#endif
