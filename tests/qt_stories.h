/* qt_stories.h - the weight matrices of the bundled llama2.c checkpoint data/stories260K.bin, as a list,
 * for the quantizer tests (read by stories_forward.h). */
#ifndef QLOW_QT_STORIES_H
#define QLOW_QT_STORIES_H

#include "qtest.h"
#include "stories_forward.h"

/* The checkpoint as the tests' forward pass reads it (stories_forward.h). */
typedef struct qt_stories {
    stories m;
} qt_stories;

typedef struct qt_matrix {
    const char *name;
    int layer;
    int rows, cols;
    const float *w;
} qt_matrix;

static inline int qt_stories_load(qt_stories *q)
{
    char path[512];
    return stories_load(&q->m, qt_path("data/stories260K.bin", path, sizeof path));
}

/* The 35 weight matrices (7 kinds x layers), in a fixed order. Returns the count written (<= max). */
static inline int qt_stories_matrices(const qt_stories *q, qt_matrix *out, int max)
{
    int n = 0;
    for (int l = 0; l < q->m.layers; l++)
        for (int k = 0; k < 7 && n < max; k++, n++) {
            int site;
            out[n].name = stories_matrix_names[k];
            out[n].layer = l;
            out[n].w = stories_matrix(&q->m, l, k, &out[n].rows, &out[n].cols, &site);
        }
    return n;
}

#endif
