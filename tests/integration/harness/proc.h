/* proc.h - child processes of the integration harness: spawn with a given environment, working
 * directory and log file, signal, reap with a deadline.
 *
 * Every child gets PR_SET_PDEATHSIG(SIGKILL), so it dies with the test process however that dies
 * (ctest timeout, crash). SIGKILL rather than SIGTERM: a daemon whose graceful stop hangs (all
 * daemons get the signal at once, so e.g. job stops while Kafka is already gone) would otherwise
 * outlive the test; graceful stops are checked by the tests themselves. Live children are also
 * registered for an atexit() handler that stops them (SIGTERM, then SIGKILL after a grace
 * period) if the test exits without stopping them. Not thread-safe: one test thread drives all
 * children.
 */
#ifndef HERALD_PROC_H
#define HERALD_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* One child process. Caller's storage; it must stay valid (not move) while the child runs, since
 * the atexit registry points at it. */
typedef struct proc_s {
    char name[32]; /* "comet-0", "logic", ...: used in messages */
    pid_t pid;     /* > 0 while running (not yet reaped) */
    bool exited;   /* reaped; status holds the waitpid status */
    int status;
} proc_t;

/* Starts argv[0] (a path) with exactly the environment envp (NULL-terminated "K=V" list), in
 * directory cwd, stdout appended to out_path and stderr appended to err_path (may be the same
 * file). Returns 0, or a negative errno when fork fails. An exec failure shows as exit status 127
 * with a message in err_path. */
int proc_start(proc_t *p, const char *name, char *const argv[], char *const envp[], const char *cwd,
               const char *out_path, const char *err_path);

/* proc_start with stdin read from in_path (proc_start: /dev/null), e.g. a FIFO the caller holds
 * open for writing (opening a FIFO with no writer would block the child). */
int proc_start_in(proc_t *p, const char *name, char *const argv[], char *const envp[],
                  const char *cwd, const char *in_path, const char *out_path, const char *err_path);

/* Reaps the child if it has exited, without blocking. Returns true when it has exited (now or
 * before). */
bool proc_poll(proc_t *p);

/* Waits up to timeout_ms for the child to exit. Returns true when it has exited. */
bool proc_wait(proc_t *p, int timeout_ms);

/* Sends sig to a running child. Returns 0, or -ESRCH when it is not running. */
int proc_signal(proc_t *p, int sig);

/* SIGTERM, wait up to grace_ms, then SIGKILL and reap. Returns true when the child exited on its
 * own after the SIGTERM (not killed). */
bool proc_stop(proc_t *p, int grace_ms);

/* Describes the exit status: "exit 0", "exit 1", "signal 9 (Killed)", "running". */
const char *proc_status_str(const proc_t *p, char *buf, size_t len);

/* True when the child exited with status 0. */
bool proc_exited_ok(const proc_t *p);

/* Prints the last max_lines lines of the file at path to stderr, under a title line. */
void proc_print_tail(const char *title, const char *path, int max_lines);

/* Milliseconds of a monotonic clock. */
long long proc_now_ms(void);

/* Sleeps ms milliseconds. */
void proc_sleep_ms(int ms);

#endif
