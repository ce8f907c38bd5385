/* logic_http_web.c - GET /web/ and /web/<file>: the browser console's static files, read from
 * http.web_root (docs/im.md, "Web console").
 *
 * The console is a handful of small files, so each request reads its file with plain blocking
 * calls on the loop thread: bounded by WEB_FILE_MAX, this costs less than a thread hand-off.
 * Anything that is not a plain, known kind of file under the root is 404, with no hint why.
 */
#include "buf.h"
#include "file_read.h"
#include "herald_err.h"
#include "logic_http.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WEB_PREFIX "/web"
#define WEB_INDEX "index.html"
#define WEB_FILE_MAX (1 << 20)

static const struct {
    const char *ext;
    const char *type;
} web_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".png", "image/png"},
    {".svg", "image/svg+xml"},
};

static const char *web_content_type(const char *rel)
{
    const char *dot = strrchr(rel, '.');
    for (size_t i = 0; dot != NULL && i < sizeof(web_types) / sizeof(web_types[0]); i++)
        if (strcmp(dot, web_types[i].ext) == 0)
            return web_types[i].type;
    return NULL;
}

/* Every segment non-empty, not starting with '.' (no "..", no hidden files) and made of
 * [A-Za-z0-9._-] only: no backslashes, percent escapes or control bytes reach the file system. */
static int web_rel_ok(const char *rel)
{
    size_t len = strlen(rel);
    if (len == 0 || len > LOGIC_HTTP_WEB_PATH_MAX)
        return 0;
    for (const char *seg = rel; *seg != '\0';) {
        size_t n = strcspn(seg, "/");
        if (n == 0 || seg[0] == '.')
            return 0;
        for (size_t i = 0; i < n; i++) {
            char c = seg[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-'))
                return 0;
        }
        seg += n;
        if (*seg == '/' && *++seg == '\0') /* a trailing slash names a directory */
            return 0;
    }
    return 1;
}

int logic_http_web_resolve(const char *root, const char *url_path, char *out, size_t cap,
                           const char **content_type)
{
    size_t plen = sizeof(WEB_PREFIX) - 1;
    if (strncmp(url_path, WEB_PREFIX, plen) != 0 ||
        (url_path[plen] != '\0' && url_path[plen] != '/'))
        return HERALD_EINVAL;
    const char *rel = url_path + plen;
    rel += *rel == '/';
    if (*rel == '\0')
        rel = WEB_INDEX;
    const char *type = web_content_type(rel);
    if (!web_rel_ok(rel) || type == NULL)
        return HERALD_ENOTFOUND;

    /* The segments are clean, but a symlink inside the root could still lead out of it: resolve
     * both and require the file's real path to lie under the root's. */
    char real_root[PATH_MAX], joined[PATH_MAX + LOGIC_HTTP_WEB_PATH_MAX + 2], real[PATH_MAX];
    if (root[0] == '\0' || realpath(root, real_root) == NULL)
        return HERALD_ENOTFOUND;
    snprintf(joined, sizeof(joined), "%s/%s", real_root, rel);
    size_t rlen = strlen(real_root);
    if (realpath(joined, real) == NULL || strncmp(real, real_root, rlen) != 0 || real[rlen] != '/')
        return HERALD_ENOTFOUND;
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode) || strlen(real) >= cap)
        return HERALD_ENOTFOUND;
    memcpy(out, real, strlen(real) + 1);
    *content_type = type;
    return 0;
}

/* Reads the whole file into a heap buffer (*len bytes). Returns 0 or HERALD_ENOTFOUND. */
static int web_read(const char *path, char **data, size_t *len)
{
    const char *why;
    return file_read(path, WEB_FILE_MAX, FILE_READ_NOFOLLOW, data, len, NULL, &why) == 0
               ? 0
               : HERALD_ENOTFOUND;
}

int logic_http_web(logic_http_t *h, http_request_t *req)
{
    const char *root = logic_http_ctx(h)->conf->http_web_root, *path = http_request_path(req);
    char file[PATH_MAX];
    const char *type = NULL;
    if (root[0] == '\0')
        return 0;
    int rc = logic_http_web_resolve(root, path, file, sizeof(file), &type);
    if (rc == HERALD_EINVAL)
        return 0; /* not under /web: the caller's routes decide */
    const char *method = http_request_method(req);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        logic_http_error(h, req, 405, "method not allowed");
        return 1;
    }
    char *data = NULL;
    size_t len = 0;
    if (rc != 0 || web_read(file, &data, &len) != 0) {
        logic_http_error(h, req, 404, "no such file");
        return 1;
    }
    http_respond(req, 200, type, data, len);
    free(data);
    return 1;
}
