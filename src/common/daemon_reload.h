/* daemon_reload.h - what SIGHUP does to a daemon's configuration: the file the daemon was started
 * with is read again (defaults, file, environment, exactly as at start), and of the keys whose
 * value changed, those the daemon declares reloadable take the new value in the running
 * configuration; the others keep the running value and are named as needing a restart. The
 * [log] section is reloadable in every daemon. A file that does not load (a syntax error, an
 * unknown key, a bad value) changes nothing: the error names file:line.
 *
 * Values are never logged (some are secrets): only "[section] key" names.
 */
#ifndef HERALD_DAEMON_RELOAD_H
#define HERALD_DAEMON_RELOAD_H

#include "conf.h"

#include <stddef.h>

/* What a daemon declares: its config table, the size of its config struct, and the keys besides
 * [log] that it applies at run time, as "section.key", NULL-terminated (list may be NULL). */
typedef struct daemon_reload_spec_s {
    const conf_item_t *items;
    size_t conf_size;
    const char *const *reloadable;
} daemon_reload_spec_t;

/* What one reload did. */
typedef struct daemon_reload_report_s {
    unsigned applied; /* changed reloadable keys, now in the running configuration */
    unsigned restart; /* changed keys that need a restart (running value kept) */
} daemon_reload_report_t;

/* Whether the key of it is reloadable under spec. */
int daemon_reload_is_reloadable(const daemon_reload_spec_t *spec, const conf_item_t *it);

/* Loads path (NULL: defaults and environment) with spec's table and updates `running` as said
 * above, logging one line per changed key ("reload: [protocol] max_msg: applied", "reload:
 * [tcp] listen: changed, needs a restart; running value kept") and a summary. Returns 0 with
 * *report filled, or HERALD_ECONF with the loader's "file:line: message" in err and running
 * untouched. The caller then applies what changed (the daemon's reload hook). Main thread. */
int daemon_reload_conf(const daemon_reload_spec_t *spec, void *running, const char *path,
                       daemon_reload_report_t *report, char *err, size_t errlen);

#endif
