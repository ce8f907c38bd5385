/* conf_props.c - the entries of a CONF_PROPS key family: file entries, environment overrides. */
#include "conf.h"

#include "buf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;

int conf_props_put(conf_props_t *p, const char *name, const char *value, const char *origin,
                   int unique, char *msg, size_t msglen)
{
    for (size_t i = 0; i < p->n; i++) {
        conf_prop_t *e = &p->v[i];
        if (strcasecmp(e->name, name) != 0)
            continue;
        if (unique) {
            snprintf(msg, msglen, "already set at %s", e->origin);
            return -1;
        }
        free(e->value);
        free(e->origin);
        e->value = xstrdup(value);
        e->origin = xstrdup(origin);
        return 0;
    }
    p->v = xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
    p->v[p->n++] = (conf_prop_t){xstrdup(name), xstrdup(value), xstrdup(origin)};
    return 0;
}

int conf_props_env(conf_props_t *p, const char *prefix, char *err, size_t errlen)
{
    size_t plen = strlen(prefix);

    for (char **env = environ; env != NULL && *env != NULL; env++) {
        const char *var = *env, *eq = strchr(var, '=');
        if (eq == NULL || strncmp(var, prefix, plen) != 0)
            continue;
        size_t vlen = (size_t)(eq - var);
        char *varname = xstrndup(var, vlen), *name = xstrdup(varname + plen);
        int rc = 0;
        for (char *c = name; *c; c++)
            *c = *c == '_' ? '.' : (char)tolower((unsigned char)*c);
        if (name[0] == '\0') {
            snprintf(err, errlen, "%s: no property name after the prefix", varname);
            rc = -1;
        } else {
            conf_props_put(p, name, eq + 1, varname, 0, NULL, 0);
        }
        free(name);
        free(varname);
        if (rc != 0)
            return rc;
    }
    return 0;
}

void conf_props_clear(conf_props_t *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].name);
        free(p->v[i].value);
        free(p->v[i].origin);
    }
    free(p->v);
    p->v = NULL;
    p->n = 0;
}
