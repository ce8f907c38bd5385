/* conf_props.h - internal to conf.c: the entries of a CONF_PROPS key family (see conf.h). */
#ifndef HERALD_CONF_PROPS_H
#define HERALD_CONF_PROPS_H

#include "conf.h"

#include <stddef.h>

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

#endif
