/* conf.h - table-driven INI configuration (redis createIntConfig, nginx conf slots).
 *
 * Each daemon declares a table of conf_item_t describing every key of its INI file and where in
 * its config struct the value goes. conf_load():
 *   1. applies every item's default,
 *   2. reads the INI file with libinih (when path is not NULL); an unknown section/key or a bad
 *      value is an error "FILE:LINE: message",
 *   3. applies environment overrides HERALD_<SECTION>_<KEY> (upper-cased, '.' and '-' become
 *      '_'), e.g. HERALD_SERVER_ID, HERALD_KAFKA_BROKERS; a bad value is an error naming the
 *      variable.
 * Types:
 *   CONF_INT      long long in [min, max], stored in an `int64_t` field
 *   CONF_BOOL     true/false/yes/no/on/off/1/0, stored in a `bool`
 *   CONF_STR      stored in a `char *` field, heap-owned by the config (freed by conf_free)
 *   CONF_MS       duration with unit "ms", "s", "m", "h" (bare number = ms), stored as int64_t ms,
 *                 bounded by [min, max] in ms
 *   CONF_SIZE     byte size with optional unit "k", "m", "g" (1024-based), int64_t, [min, max]
 *   CONF_ENUM     one of the '|'-separated words in `choices`, stored as the int index in an `int`
 *   CONF_PROPS    a family of keys: `key` is a prefix ("property."), and every key of the section
 *                 that starts with it is one name = value pair (name = the rest of the key),
 *                 stored in a conf_props_t in file order. Names are 1..CONF_PROP_NAME_MAX of
 *                 [A-Za-z0-9._-]; a name twice in the file is an error. The environment adds or
 *                 replaces pairs: HERALD_<SECTION>_<PREFIX>_<NAME>, e.g.
 *                 HERALD_KAFKA_PROPERTY_SASL_MECHANISM, whose NAME is lower-cased with '_' read
 *                 as '.' (sasl.mechanism). Values are never part of an error message, since they
 *                 may be passwords; the default is no pair.
 */
#ifndef HERALD_CONF_H
#define HERALD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CONF_INT,
    CONF_BOOL,
    CONF_STR,
    CONF_MS,
    CONF_SIZE,
    CONF_ENUM,
    CONF_PROPS
} conf_type_t;

#define CONF_PROP_NAME_MAX 128

/* One pair of a CONF_PROPS family. origin says where it was set, for later error messages:
 * "FILE:LINE" or the environment variable's name. All three heap-owned by the config. */
typedef struct conf_prop_s {
    char *name;
    char *value;
    char *origin;
} conf_prop_t;

typedef struct conf_props_s {
    conf_prop_t *v;
    size_t n;
} conf_props_t;

typedef struct conf_item_s {
    const char *section;
    const char *key;
    conf_type_t type;
    size_t offset;       /* offsetof(daemon_conf_t, field) */
    const char *def;     /* default, as text in the same syntax as the file */
    long long min, max;  /* for CONF_INT, CONF_MS, CONF_SIZE */
    const char *choices; /* for CONF_ENUM: "round-robin|least-conn|hash" */
} conf_item_t;

/* Loads `target` from defaults, `path` (may be NULL: defaults and environment only) and the
 * environment. `items` ends with an item whose section is NULL. On error returns HERALD_ECONF
 * and writes "file:line: message" (or "HERALD_X_Y: message") into err; the target may be
 * partly filled and must still be released with conf_free(). */
int conf_load(const conf_item_t *items, void *target, const char *path, char *err, size_t errlen);

/* Frees every CONF_STR and CONF_PROPS field of target. The struct itself belongs to the caller. */
void conf_free(const conf_item_t *items, void *target);

/* For a reload (daemon_reload.h): a and b are two structs loaded from the same table.
 * conf_item_equal tells whether item it holds the same value in both (CONF_PROPS: the same pairs
 * in the same order). conf_item_swap exchanges its values (strings and pairs by pointer, nothing
 * copied): the running struct takes the new value, the new struct (then released with
 * conf_free) the old one. */
int conf_item_equal(const conf_item_t *it, const void *a, const void *b);
void conf_item_swap(const conf_item_t *it, void *a, void *b);

/* Splits a comma-separated list ("a:1, b:2") in place-independent fashion: returns a
 * NULL-terminated array of trimmed heap strings (free with conf_list_free), count in *n. */
char **conf_list_split(const char *s, size_t *n);
void conf_list_free(char **list);

#endif
