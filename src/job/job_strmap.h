/* job_strmap.h - a string-keyed hash map (open addressing, linear probing, backward-shift
 * deletion) for herald-job's per-comet room sets and room batching states. Single-threaded.
 * Keys are copied; values are borrowed pointers the map never frees.
 */
#ifndef JOB_STRMAP_H
#define JOB_STRMAP_H

#include <stddef.h>

typedef struct job_strmap_s job_strmap_t;

/* Returns an empty map. Aborts on OOM. */
job_strmap_t *job_strmap_new(void);
/* Frees the map and its key copies (not the values). NULL is a no-op. */
void job_strmap_free(job_strmap_t *m);

/* The value stored under key, or NULL. */
void *job_strmap_get(const job_strmap_t *m, const char *key);
/* Stores value (not NULL) under key, replacing any previous value. Returns the map's own copy of
 * the key, valid until the key is deleted or the map freed. */
const char *job_strmap_put(job_strmap_t *m, const char *key, void *value);
/* Removes key; returns its value, or NULL when absent. */
void *job_strmap_del(job_strmap_t *m, const char *key);
size_t job_strmap_count(const job_strmap_t *m);

#endif
