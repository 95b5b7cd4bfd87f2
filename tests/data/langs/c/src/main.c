/* SPDX-License-Identifier: MIT */

/* Entry point of the demo. */
#include <stdio.h>
#include "util.h"
#include "mylib/api.h"
#include "../missing.h"

#define MAX_ITEMS 16
#define SQUARE(x) ((x) * (x))

/* A point on the plane. */
struct point {
    int x;
    int y;
};

typedef struct point point_t;

enum color { RED, GREEN };

/** Adds two numbers. */
static int add(int a, int b) {
    return a + b;
}

int main(void) {
    struct point p = {1, 2};
    printf("%d\n", add(p.x, SQUARE(p.y)));
    return util_run(&p);
}
