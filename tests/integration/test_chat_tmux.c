/* test_chat_tmux.c - `herald-cli chat` driven through a real terminal: two clients in tmux panes
 * (send-keys types, capture-pane reads the screen) chat privately and in a room, and list online
 * users and the room's members. Skipped when tmux is not installed (scripts/install-deps.sh
 * installs it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "proc.h"

#define SCREEN_WAIT_MS 10000
#define ROOM "live://tmux"

static cluster_t *g_c;
static char g_sock[64]; /* tmux -L socket name: our own server, never the user's */

static int group_setup(void **state)
{
    (void)state;
    cluster_opts_t o = {.n_comets = 1, .n_routers = 1};
    g_c = cluster_start(&o);
    snprintf(g_sock, sizeof(g_sock), "herald-test-%d", (int)getpid());
    return g_c ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "tmux -L %s kill-server 2>/dev/null", g_sock);
    if (system(cmd) < 0)
        perror("tmux kill-server");
    return cluster_stop(g_c, false) == 0 ? 0 : -1;
}

static void tmux(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tmux(const char *fmt, ...)
{
    char args[1024], cmd[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "tmux -L %s %s", g_sock, args);
    if (system(cmd) != 0)
        fail_msg("failed: %s", cmd);
}

/* The visible text of pane `target` (heap string). */
static char *capture(const char *target)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "tmux -L %s capture-pane -p -J -t %s", g_sock, target);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(1, cap);
    size_t n;
    while ((n = fread(out + len, 1, cap - 1 - len, f)) > 0)
        len += n;
    pclose(f);
    return out;
}

/* Nonzero when screen, after the last occurrence of header (NULL: anywhere), shows present and
 * not absent (NULL: nothing to check). */
static int shows_after(const char *screen, const char *header, const char *present,
                       const char *absent)
{
    const char *last = header ? NULL : screen;
    for (const char *p = header ? strstr(screen, header) : NULL; p != NULL;
         p = strstr(p + 1, header))
        last = p;
    return last != NULL && strstr(last, present) != NULL &&
           (absent == NULL || !strstr(last, absent));
}

/* Waits until pane target shows what shows_after checks. */
static void expect_after(const char *target, const char *header, const char *present,
                         const char *absent)
{
    long long deadline = proc_now_ms() + SCREEN_WAIT_MS;
    char *screen = NULL;
    do {
        free(screen);
        screen = capture(target);
        if (shows_after(screen, header, present, absent)) {
            free(screen);
            return;
        }
        usleep(100 * 1000);
    } while (proc_now_ms() < deadline);
    fprintf(stderr, "---- pane %s ----\n%s\n----\n", target, screen);
    free(screen);
    fail_msg("pane %s never showed \"%s\"%s%s%s%s", target, present, header ? " after " : "",
             header ? header : "", absent ? " without " : "", absent ? absent : "");
}

/* Waits until pane target shows text. */
static void expect_screen(const char *target, const char *text)
{
    expect_after(target, NULL, text, NULL);
}

static void start_chat(const char *pane_cmd, const char *name)
{
    tmux("%s \"%s/herald-cli chat --logic 127.0.0.1:%d --name %s --room %s\"", pane_cmd,
         HERALD_BIN_DIR, cluster_logic_http_port(g_c), name, ROOM);
}

static void test_two_clients_chat(void **state)
{
    (void)state;
    if (system("command -v tmux >/dev/null 2>&1") != 0)
        fail_msg("tmux is not installed (scripts/install-deps.sh installs it)");
    start_chat("new-session -d -s chat -x 160 -y 40", "tm-alice");
    start_chat("split-window -v -t chat:0", "tm-bob");
    expect_screen("chat:0.0", "tm-alice (");
    expect_screen("chat:0.1", "tm-bob (");
    cluster_wait_room(g_c, ROOM, 2, SCREEN_WAIT_MS);

    /* Private, by name: only alice's pane shows it, marked private, with bob as sender. */
    tmux("send-keys -t chat:0.1 -l '@tm-alice psst alice'");
    tmux("send-keys -t chat:0.1 Enter");
    expect_screen("chat:0.0", "] tm-bob (private): psst alice");

    /* Room: both panes show it (the sender is a member too). */
    tmux("send-keys -t chat:0.0 -l 'hello room'");
    tmux("send-keys -t chat:0.0 Enter");
    expect_screen("chat:0.1", "] tm-alice: hello room");
    expect_screen("chat:0.0", "] tm-alice: hello room");

    /* Online users list both. */
    tmux("send-keys -t chat:0.1 -l ':olu'");
    tmux("send-keys -t chat:0.1 Enter");
    expect_screen("chat:0.1", "  tm-alice (");

    /* The room's members: both, one connection each. */
    tmux("send-keys -t chat:0.0 -l ':who'");
    tmux("send-keys -t chat:0.0 Enter");
    expect_after("chat:0.0", "* members of " ROOM ":", "tm-bob (", NULL);
    expect_after("chat:0.0", "* members of " ROOM ":", "tm-alice (", NULL);
    expect_after("chat:0.0", "* members of " ROOM ":", "): 1 connection\n", NULL);

    /* Changing room: bob leaves, so alice's next room message does not reach him. */
    tmux("send-keys -t chat:0.1 -l ':room live://elsewhere'");
    tmux("send-keys -t chat:0.1 Enter");
    expect_screen("chat:0.1", "* in room live://elsewhere");
    cluster_wait_room(g_c, ROOM, 1, SCREEN_WAIT_MS);
    tmux("send-keys -t chat:0.0 -l 'only me now'");
    tmux("send-keys -t chat:0.0 Enter");
    expect_screen("chat:0.0", "] tm-alice: only me now");
    tmux("send-keys -t chat:0.1 -l '@tm-alice done'");
    tmux("send-keys -t chat:0.1 Enter");
    expect_screen("chat:0.0", "] tm-bob (private): done");
    char *bob = capture("chat:0.1");
    assert_null(strstr(bob, "only me now"));
    free(bob);
    tmux("send-keys -t chat:0.1 -l ':who'");
    tmux("send-keys -t chat:0.1 Enter");
    expect_after("chat:0.1", "* members of live://elsewhere:", "  tm-bob (", "tm-alice");

    /* :q ends bob's client, and its pane with it (alice's keeps index 0). */
    tmux("send-keys -t chat:0.1 -l ':q'");
    tmux("send-keys -t chat:0.1 Enter");
    long long deadline = proc_now_ms() + SCREEN_WAIT_MS;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "tmux -L %s list-panes -t chat:0 | grep -q '^1:'", g_sock);
    while (system(cmd) == 0 && proc_now_ms() < deadline)
        usleep(100 * 1000);
    assert_int_not_equal(system(cmd), 0);
    tmux("send-keys -t chat:0.0 -l ':q'");
    tmux("send-keys -t chat:0.0 Enter");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_two_clients_chat)};
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
