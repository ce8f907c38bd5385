/* daemon_reload.c - see daemon_reload.h. */
#include "daemon_reload.h"

#include "buf.h"
#include "herald_err.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int daemon_reload_is_reloadable(const daemon_reload_spec_t *spec, const conf_item_t *it)
{
    if (strcasecmp(it->section, "log") == 0)
        return 1;
    size_t slen = strlen(it->section);
    for (const char *const *k = spec->reloadable; k != NULL && *k != NULL; k++) {
        if (strncasecmp(*k, it->section, slen) == 0 && (*k)[slen] == '.' &&
            strcasecmp(*k + slen + 1, it->key) == 0)
            return 1;
    }
    return 0;
}

/* A CONF_PROPS family is named by its prefix: "property.*". */
static const char *props_mark(const conf_item_t *it)
{
    return it->type == CONF_PROPS ? "*" : "";
}

int daemon_reload_conf(const daemon_reload_spec_t *spec, void *running, const char *path,
                       daemon_reload_report_t *report, char *err, size_t errlen)
{
    memset(report, 0, sizeof *report);
    void *fresh = xcalloc(1, spec->conf_size);
    int rc = conf_load(spec->items, fresh, path, err, errlen);
    if (rc == 0) {
        for (const conf_item_t *it = spec->items; it->section != NULL; it++) {
            if (conf_item_equal(it, running, fresh))
                continue;
            if (daemon_reload_is_reloadable(spec, it)) {
                conf_item_swap(it, running, fresh);
                report->applied++;
                log_info("reload: [%s] %s%s: applied", it->section, it->key, props_mark(it));
            } else {
                report->restart++;
                log_warn("reload: [%s] %s%s: changed, needs a restart; running value kept",
                         it->section, it->key, props_mark(it));
            }
        }
        log_info("reload: %s: %u changed keys applied, %u need a restart",
                 path ? path : "defaults and environment", report->applied, report->restart);
    }
    /* Holds the old values of what was applied, or the whole failed load. */
    conf_free(spec->items, fresh);
    free(fresh);
    return rc;
}
