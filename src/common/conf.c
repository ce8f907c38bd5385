/* conf.c - table-driven INI configuration: defaults, libinih file, HERALD_* environment. */
#include "conf.h"

#include "buf.h"
#include "herald_err.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONF_MSG_MAX 256

/* State of one ini_parse_stream run. */
typedef struct conf_parse_s {
    const conf_item_t *items;
    const char *path;
    void *target;
    FILE *f;
    char *line; /* getline buffer */
    size_t line_cap;
    int lineno;   /* of the line last handed to inih: inih counts lines exactly as we do */
    int err_line; /* of the first error we found, 0 if none */
    char err[2 * CONF_MSG_MAX];
} conf_parse_t;

static void *conf_field(const conf_item_t *it, void *target)
{
    return (char *)target + it->offset;
}

/* Parses a decimal integer followed by an optional unit, with blanks allowed around both.
 * Returns 0 with *v and *unit (the unit's first character, "" when none), -1 if not a number,
 * -2 if it does not fit a long long. */
static int conf_parse_num(const char *s, long long *v, const char **unit)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    if (!isdigit((unsigned char)*s) && !((*s == '-' || *s == '+') && isdigit((unsigned char)s[1])))
        return -1;
    errno = 0;
    *v = strtoll(s, &end, 10);
    if (errno == ERANGE)
        return -2;
    while (isspace((unsigned char)*end))
        end++;
    *unit = end;
    return 0;
}

/* Compares a unit (possibly followed by blanks) with a word, ignoring case. */
static int conf_unit_is(const char *unit, const char *word)
{
    size_t n = strlen(word);
    if (strncasecmp(unit, word, n) != 0)
        return 0;
    for (unit += n; *unit; unit++) {
        if (!isspace((unsigned char)*unit))
            return 0;
    }
    return 1;
}

typedef struct conf_unit_s {
    const char *word;
    long long scale;
} conf_unit_t;

static const conf_unit_t conf_ms_units[] = {
    {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {NULL, 0},
};
static const conf_unit_t conf_size_units[] = {
    {"", 1},          {"b", 1},           {"k", 1024},
    {"kb", 1024},     {"m", 1024 * 1024}, {"mb", 1024 * 1024},
    {"g", 1LL << 30}, {"gb", 1LL << 30},  {NULL, 0},
};

/* Returns the multiplier named by unit, 0 if it is not one of units. */
static long long conf_unit_scale(const conf_unit_t *units, const char *unit)
{
    for (; units->word != NULL; units++) {
        if (conf_unit_is(unit, units->word))
            return units->scale;
    }
    return 0;
}

static int conf_set_number(const conf_item_t *it, void *target, const char *value, char *msg)
{
    static const char *const what[] = {
        [CONF_INT] = "an integer",
        [CONF_MS] = "a duration (500ms, 5s, 2m, 1h; bare numbers are ms)",
        [CONF_SIZE] = "a size (4096, 64k, 1m, 1g)",
    };
    long long v, scale = 1;
    const char *unit;
    int rc = conf_parse_num(value, &v, &unit);
    if (rc == 0 && it->type == CONF_INT && *unit != '\0')
        rc = -1;
    if (rc == 0 && it->type != CONF_INT) {
        scale = conf_unit_scale(it->type == CONF_MS ? conf_ms_units : conf_size_units, unit);
        if (scale == 0)
            rc = -1;
    }
    if (rc == 0 && __builtin_mul_overflow(v, scale, &v))
        rc = -2;
    if (rc == -1) {
        snprintf(msg, CONF_MSG_MAX, "'%.100s' is not %s", value, what[it->type]);
        return -1;
    }
    if (rc == -2 || v < it->min || v > it->max) {
        const char *unit_name = it->type == CONF_MS ? " ms" : it->type == CONF_SIZE ? " bytes" : "";
        snprintf(msg, CONF_MSG_MAX, "'%.100s' is out of range [%lld, %lld]%s", value, it->min,
                 it->max, unit_name);
        return -1;
    }
    *(int64_t *)conf_field(it, target) = v;
    return 0;
}

static int conf_set_enum(const conf_item_t *it, void *target, const char *value, char *msg)
{
    const char *c = it->choices;
    size_t len = strlen(value);
    for (int i = 0; c != NULL && *c != '\0'; i++) {
        const char *bar = strchr(c, '|');
        size_t n = bar ? (size_t)(bar - c) : strlen(c);
        if (n == len && strncasecmp(c, value, n) == 0) {
            *(int *)conf_field(it, target) = i;
            return 0;
        }
        c = bar ? bar + 1 : c + n;
    }
    snprintf(msg, CONF_MSG_MAX, "'%.100s' is not one of %s", value, it->choices ? it->choices : "");
    return -1;
}

/* ------------------------------------------------------------------- CONF_PROPS */

static int conf_prop_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > CONF_PROP_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '.' && name[i] != '_' && name[i] != '-')
            return 0;
    return 1;
}

/* Sets name = value in the family (replace: an existing pair is overwritten, else an error).
 * Returns 0, or -1 with a message in msg that never holds the value. */
static int conf_prop_set(const conf_item_t *it, void *target, const char *name, const char *value,
                         const char *origin, int replace, char *msg)
{
    conf_props_t *props = conf_field(it, target);
    if (!conf_prop_name_ok(name)) {
        snprintf(msg, CONF_MSG_MAX, "bad name '%s%.*s': 1 to %d of A-Z a-z 0-9 . _ -", it->key,
                 CONF_PROP_NAME_MAX, name, CONF_PROP_NAME_MAX);
        return -1;
    }
    for (size_t i = 0; i < props->n; i++) {
        if (strcmp(props->v[i].name, name) != 0)
            continue;
        if (!replace) {
            snprintf(msg, CONF_MSG_MAX, "%s%s set twice (first at %s)", it->key, name,
                     props->v[i].origin);
            return -1;
        }
        free(props->v[i].value);
        free(props->v[i].origin);
        props->v[i].value = xstrdup(value);
        props->v[i].origin = xstrdup(origin);
        return 0;
    }
    props->v = xrealloc(props->v, (props->n + 1) * sizeof(*props->v));
    props->v[props->n++] = (conf_prop_t){xstrdup(name), xstrdup(value), xstrdup(origin)};
    return 0;
}

static void conf_props_free(conf_props_t *props)
{
    for (size_t i = 0; i < props->n; i++) {
        free(props->v[i].name);
        /* a value may be a password: not left in freed memory */
        memset(props->v[i].value, 0, strlen(props->v[i].value));
        free(props->v[i].value);
        free(props->v[i].origin);
    }
    free(props->v);
    props->v = NULL;
    props->n = 0;
}

/* ------------------------------------------------------------------------- values */

/* Applies one textual value to its field. Returns 0, or -1 with a message in msg. */
static int conf_set(const conf_item_t *it, void *target, const char *value, char *msg)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    switch (it->type) {
    case CONF_INT:
    case CONF_MS:
    case CONF_SIZE:
        return conf_set_number(it, target, value, msg);
    case CONF_BOOL:
        for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
            if (strcasecmp(value, yes[i]) == 0 || strcasecmp(value, no[i]) == 0) {
                *(bool *)conf_field(it, target) = strcasecmp(value, yes[i]) == 0;
                return 0;
            }
        }
        snprintf(msg, CONF_MSG_MAX, "'%.100s' is not a boolean (true/false, yes/no, on/off, 1/0)",
                 value);
        return -1;
    case CONF_STR: {
        char **field = conf_field(it, target);
        free(*field);
        *field = xstrdup(value);
        return 0;
    }
    case CONF_ENUM:
        return conf_set_enum(it, target, value, msg);
    case CONF_PROPS:
        break; /* set by name: conf_prop_set */
    }
    snprintf(msg, CONF_MSG_MAX, "unknown item type %d", (int)it->type);
    return -1;
}

/* Step 1. String fields are taken as uninitialised: a fresh struct need not be zeroed first. */
static int conf_apply_defaults(const conf_item_t *items, void *target, char *err, size_t errlen)
{
    char msg[CONF_MSG_MAX];
    for (const conf_item_t *it = items; it->section != NULL; it++) {
        if (it->type == CONF_STR)
            *(char **)conf_field(it, target) = NULL;
        else if (it->type == CONF_PROPS)
            *(conf_props_t *)conf_field(it, target) = (conf_props_t){NULL, 0};
    }
    for (const conf_item_t *it = items; it->section != NULL; it++) {
        if (it->type == CONF_PROPS)
            continue;
        if (it->def == NULL) {
            if (it->type == CONF_INT || it->type == CONF_MS || it->type == CONF_SIZE)
                *(int64_t *)conf_field(it, target) = 0;
            else if (it->type == CONF_BOOL)
                *(bool *)conf_field(it, target) = false;
            else if (it->type == CONF_ENUM)
                *(int *)conf_field(it, target) = 0;
            continue;
        }
        if (conf_set(it, target, it->def, msg) != 0) {
            snprintf(err, errlen, "default of [%s] %s: %s", it->section, it->key, msg);
            return HERALD_ECONF;
        }
    }
    return 0;
}

static const conf_item_t *conf_find(const conf_item_t *items, const char *section, const char *key,
                                    int *section_known)
{
    *section_known = 0;
    for (const conf_item_t *it = items; it->section != NULL; it++) {
        if (strcasecmp(it->section, section) != 0)
            continue;
        *section_known = 1;
        if (it->type == CONF_PROPS ? strncasecmp(it->key, key, strlen(it->key)) == 0
                                   : strcasecmp(it->key, key) == 0)
            return it;
    }
    return NULL;
}

static void conf_record(conf_parse_t *p, const char *msg)
{
    if (p->err_line != 0)
        return;
    p->err_line = p->lineno;
    snprintf(p->err, sizeof(p->err), "%s", msg);
}

/* Debian's libinih 55 handler gets no line number: the reader below counts lines, and inih
 * calls the handler for a line before it asks for the next one. */
static int conf_on_ini(void *user, const char *section, const char *name, const char *value)
{
    conf_parse_t *p = user;
    char msg[2 * CONF_MSG_MAX], why[CONF_MSG_MAX];
    int section_known;
    const conf_item_t *it = conf_find(p->items, section, name, &section_known);

    if (it == NULL && section[0] == '\0')
        snprintf(msg, sizeof(msg), "key '%s' outside any [section]", name);
    else if (it == NULL && !section_known)
        snprintf(msg, sizeof(msg), "unknown section [%s]", section);
    else if (it == NULL)
        snprintf(msg, sizeof(msg), "unknown key '%s' in [%s]", name, section);
    else if (value == NULL)
        snprintf(msg, sizeof(msg), "[%s] %s: missing value", it->section, name);
    else if (it->type == CONF_PROPS) {
        char origin[PATH_MAX + 16];
        snprintf(origin, sizeof(origin), "%s:%d", p->path, p->lineno);
        if (conf_prop_set(it, p->target, name + strlen(it->key), value, origin, 0, why) == 0)
            return 1;
        snprintf(msg, sizeof(msg), "[%s] %s", it->section, why);
    } else if (conf_set(it, p->target, value, why) != 0)
        snprintf(msg, sizeof(msg), "[%s] %s: %s", it->section, it->key, why);
    else
        return 1;
    conf_record(p, msg);
    return 0;
}

/* fgets-like reader for inih. Leading blanks are dropped because inih's multi-line support
 * would otherwise take an indented "key = value" for a continuation of the previous value.
 * A line that does not fit inih's buffer would be split into two lines: it is reported and
 * replaced by an empty one. */
static char *conf_read_line(char *str, int num, void *stream)
{
    conf_parse_t *p = stream;
    if (getline(&p->line, &p->line_cap, p->f) < 0)
        return NULL;
    p->lineno++;
    const char *s = p->line;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    if (num <= 0 || len >= (size_t)num) {
        char msg[CONF_MSG_MAX];
        snprintf(msg, sizeof(msg), "line longer than %d characters", num - 3);
        conf_record(p, msg);
        s = "\n";
        len = 1;
    }
    memcpy(str, s, len + 1);
    return str;
}

/* Step 2. */
static int conf_apply_file(const conf_item_t *items, void *target, const char *path, char *err,
                           size_t errlen)
{
    conf_parse_t p = {.items = items, .path = path, .target = target};
    p.f = fopen(path, "r");
    if (p.f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return HERALD_ECONF;
    }
    int rc = ini_parse_stream(conf_read_line, &p, conf_on_ini, &p);
    int read_err = ferror(p.f);
    fclose(p.f);
    free(p.line);

    if (rc > 0 && (p.err_line == 0 || rc < p.err_line)) {
        snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)", path, rc);
    } else if (p.err_line != 0) {
        snprintf(err, errlen, "%s:%d: %s", path, p.err_line, p.err);
    } else if (rc < 0 || read_err) {
        snprintf(err, errlen, "%s: read error", path);
    } else {
        return 0;
    }
    return HERALD_ECONF;
}

/* HERALD_<SECTION>_<KEY>, upper-cased, '.' and '-' as '_'. */
static void conf_env_name(const conf_item_t *it, char *out, size_t cap)
{
    snprintf(out, cap, "HERALD_%s_%s", it->section, it->key);
    for (char *c = out; *c; c++) {
        if (*c == '.' || *c == '-')
            *c = '_';
        else
            *c = (char)toupper((unsigned char)*c);
    }
}

extern char **environ;

/* Step 3 for a CONF_PROPS family: every HERALD_<SECTION>_<PREFIX>_<NAME> (prefix "property."
 * gives HERALD_KAFKA_PROPERTY_...), NAME lower-cased with '_' read as '.'. */
static int conf_apply_env_props(const conf_item_t *it, void *target, char *err, size_t errlen)
{
    char stem[160], name[CONF_PROP_NAME_MAX + 2], msg[CONF_MSG_MAX];
    conf_env_name(it, stem, sizeof(stem)); /* the prefix's '.' became '_' */
    size_t stem_len = strlen(stem);
    for (char **e = environ; *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        if (eq == NULL || strncmp(*e, stem, stem_len) != 0)
            continue;
        size_t n = (size_t)(eq - *e) - stem_len;
        if (n > CONF_PROP_NAME_MAX)
            n = CONF_PROP_NAME_MAX + 1; /* refused by the name check */
        for (size_t i = 0; i < n; i++) {
            char c = (*e)[stem_len + i];
            name[i] = c == '_' ? '.' : (char)tolower((unsigned char)c);
        }
        name[n] = '\0';
        char var[sizeof(stem) + CONF_PROP_NAME_MAX + 2];
        snprintf(var, sizeof(var), "%.*s", (int)(eq - *e), *e);
        if (conf_prop_set(it, target, name, eq + 1, var, 1, msg) != 0) {
            snprintf(err, errlen, "%s: %s", var, msg);
            return HERALD_ECONF;
        }
    }
    return 0;
}

/* Step 3. */
static int conf_apply_env(const conf_item_t *items, void *target, char *err, size_t errlen)
{
    char name[160], msg[CONF_MSG_MAX];
    for (const conf_item_t *it = items; it->section != NULL; it++) {
        if (it->type == CONF_PROPS) {
            if (conf_apply_env_props(it, target, err, errlen) != 0)
                return HERALD_ECONF;
            continue;
        }
        conf_env_name(it, name, sizeof(name));
        const char *value = getenv(name);
        if (value == NULL)
            continue;
        if (conf_set(it, target, value, msg) != 0) {
            snprintf(err, errlen, "%s: %s", name, msg);
            return HERALD_ECONF;
        }
    }
    return 0;
}

int conf_load(const conf_item_t *items, void *target, const char *path, char *err, size_t errlen)
{
    int rc = conf_apply_defaults(items, target, err, errlen);
    if (rc == 0 && path != NULL)
        rc = conf_apply_file(items, target, path, err, errlen);
    if (rc == 0)
        rc = conf_apply_env(items, target, err, errlen);
    return rc;
}

void conf_free(const conf_item_t *items, void *target)
{
    for (const conf_item_t *it = items; it->section != NULL; it++) {
        if (it->type == CONF_STR) {
            char **field = conf_field(it, target);
            free(*field);
            *field = NULL;
        } else if (it->type == CONF_PROPS) {
            conf_props_free(conf_field(it, target));
        }
    }
}

static size_t conf_item_size(const conf_item_t *it)
{
    switch (it->type) {
    case CONF_INT:
    case CONF_MS:
    case CONF_SIZE:
        return sizeof(int64_t);
    case CONF_BOOL:
        return sizeof(bool);
    case CONF_STR:
        return sizeof(char *);
    case CONF_ENUM:
        return sizeof(int);
    case CONF_PROPS:
        break;
    }
    return sizeof(conf_props_t);
}

static int conf_str_equal(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

int conf_item_equal(const conf_item_t *it, const void *a, const void *b)
{
    const void *fa = conf_field(it, (void *)a), *fb = conf_field(it, (void *)b);
    if (it->type == CONF_STR)
        return conf_str_equal(*(char *const *)fa, *(char *const *)fb);
    if (it->type != CONF_PROPS)
        return memcmp(fa, fb, conf_item_size(it)) == 0;
    const conf_props_t *pa = fa, *pb = fb;
    if (pa->n != pb->n)
        return 0;
    for (size_t i = 0; i < pa->n; i++)
        if (strcmp(pa->v[i].name, pb->v[i].name) != 0 ||
            strcmp(pa->v[i].value, pb->v[i].value) != 0)
            return 0;
    return 1;
}

void conf_item_swap(const conf_item_t *it, void *a, void *b)
{
    unsigned char tmp[sizeof(conf_props_t)];
    size_t n = conf_item_size(it);
    memcpy(tmp, conf_field(it, a), n);
    memcpy(conf_field(it, a), conf_field(it, b), n);
    memcpy(conf_field(it, b), tmp, n);
}

char **conf_list_split(const char *s, size_t *n)
{
    size_t cap = 1;
    for (const char *c = s ? s : ""; *c; c++)
        cap += *c == ',';
    char **list = xcalloc(cap + 1, sizeof(*list));
    size_t k = 0;
    const char *p = s ? s : "";
    for (;;) {
        const char *end = strchr(p, ',');
        const char *next = end ? end + 1 : NULL;
        if (end == NULL)
            end = p + strlen(p);
        while (p < end && isspace((unsigned char)*p))
            p++;
        while (end > p && isspace((unsigned char)end[-1]))
            end--;
        if (end > p)
            list[k++] = xstrndup(p, (size_t)(end - p));
        if (next == NULL)
            break;
        p = next;
    }
    list[k] = NULL;
    if (n != NULL)
        *n = k;
    return list;
}

void conf_list_free(char **list)
{
    if (list == NULL)
        return;
    for (char **p = list; *p; p++)
        free(*p);
    free(list);
}
