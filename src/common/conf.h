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
 *   CONF_PROPS    a family of keys "<key>.<name> = value" (e.g. [kafka] property.sasl.mechanism),
 *                 stored in a `conf_props_t` as (name, value, origin) in file order; `def` must be
 *                 NULL (no entries). A name given twice in the file is an error naming both
 *                 lines. Environment: HERALD_<SECTION>_<KEY>_<NAME> with NAME lower-cased and
 *                 every '_' read as '.' (HERALD_KAFKA_PROPERTY_SASL_USERNAME is sasl.username);
 *                 it replaces an entry of that name from the file or adds one. Values are never
 *                 copied into an error message: they may be passwords.
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

/* One entry of a CONF_PROPS family; all three strings are heap-owned by the config. */
typedef struct conf_prop_s {
    char *name;   /* after "<key>.", e.g. "sasl.mechanism" */
    char *value;  /* may be a secret: never log it */
    char *origin; /* "FILE:LINE" or the environment variable's name, for error messages */
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

/* The entries of a CONF_PROPS family (conf_props.c), for conf_load's use; callers read
 * conf_props_t directly. */
/* Adds (name, value, origin), or replaces the value and origin of the entry called name
 * (case-insensitively). With `unique` an existing entry is an error instead: returns -1 with
 * "already set at ORIGIN" in msg. Returns 0 otherwise. */
int conf_props_put(conf_props_t *p, const char *name, const char *value, const char *origin,
                   int unique, char *msg, size_t msglen);

/* Applies every environment variable `prefix`NAME (prefix "HERALD_KAFKA_PROPERTY_"): NAME
 * lower-cased, '_' read as '.'. Returns 0, or -1 with "VARIABLE: message" in err. */
int conf_props_env(conf_props_t *p, const char *prefix, char *err, size_t errlen);

/* Frees every entry and leaves p empty. */
void conf_props_clear(conf_props_t *p);

/* Splits a comma-separated list ("a:1, b:2") in place-independent fashion: returns a
 * NULL-terminated array of trimmed heap strings (free with conf_list_free), count in *n. */
char **conf_list_split(const char *s, size_t *n);
void conf_list_free(char **list);

#endif
