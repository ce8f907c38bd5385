#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROC_REGISTRY_MAX 64

/* Children that may still run, for the atexit handler. A slot is cleared when its child is
 * reaped, so the handler never signals a pid that may have been reused. */
static proc_t *proc_registry[PROC_REGISTRY_MAX];
static bool proc_atexit_installed;

long long proc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void proc_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static void proc_registry_set(proc_t *p, bool on)
{
    for (int i = 0; i < PROC_REGISTRY_MAX; i++) {
        if (on && proc_registry[i] == NULL) {
            proc_registry[i] = p;
            return;
        }
        if (!on && proc_registry[i] == p) {
            proc_registry[i] = NULL;
            return;
        }
    }
}

static void proc_on_exit(void)
{
    for (int i = 0; i < PROC_REGISTRY_MAX; i++) {
        if (proc_registry[i] != NULL)
            proc_stop(proc_registry[i], 3000);
    }
}

/* Runs in the child between fork and exec: only async-signal-safe calls. */
static void proc_child(pid_t parent, char *const argv[], char *const envp[], const char *cwd,
                       const char *in_path, const char *out_path, const char *err_path)
{
    /* A daemon must not outlive the test process, whatever kills the test (see proc.h for why
     * SIGKILL). The check after prctl closes the race where the parent died before the call. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(126);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* SIG_IGN survives execve; the harness ignores SIGPIPE, the daemon must start clean. */
    signal(SIGPIPE, SIG_DFL);
    int out = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int err = strcmp(out_path, err_path) == 0
                  ? out
                  : open(err_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int in = open(in_path, O_RDONLY | O_CLOEXEC);
    if (out < 0 || err < 0 || in < 0)
        _exit(126);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        _exit(126);
    if (chdir(cwd) != 0)
        _exit(126);
    execve(argv[0], argv, envp);
    static const char msg[] = "harness: execve failed: ";
    (void)!write(2, msg, sizeof(msg) - 1);
    (void)!write(2, argv[0], strlen(argv[0]));
    (void)!write(2, "\n", 1);
    _exit(127);
}

int proc_start(proc_t *p, const char *name, char *const argv[], char *const envp[], const char *cwd,
               const char *out_path, const char *err_path)
{
    return proc_start_in(p, name, argv, envp, cwd, "/dev/null", out_path, err_path);
}

int proc_start_in(proc_t *p, const char *name, char *const argv[], char *const envp[],
                  const char *cwd, const char *in_path, const char *out_path, const char *err_path)
{
    if (!proc_atexit_installed) {
        atexit(proc_on_exit);
        proc_atexit_installed = true;
    }
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        proc_child(parent, argv, envp, cwd, in_path, out_path, err_path);
    p->pid = pid;
    proc_registry_set(p, true);
    return 0;
}

static void proc_reaped(proc_t *p, int status)
{
    p->exited = true;
    p->status = status;
    p->pid = 0;
    proc_registry_set(p, false);
}

bool proc_poll(proc_t *p)
{
    if (p->exited)
        return true;
    if (p->pid <= 0)
        return false;
    int status;
    pid_t r = waitpid(p->pid, &status, WNOHANG);
    if (r == p->pid) {
        proc_reaped(p, status);
        return true;
    }
    return false;
}

bool proc_wait(proc_t *p, int timeout_ms)
{
    long long deadline = proc_now_ms() + timeout_ms;
    for (;;) {
        if (proc_poll(p))
            return true;
        if (p->pid <= 0 || proc_now_ms() >= deadline)
            return false;
        proc_sleep_ms(10);
    }
}

int proc_signal(proc_t *p, int sig)
{
    if (proc_poll(p) || p->pid <= 0)
        return -ESRCH;
    return kill(p->pid, sig) == 0 ? 0 : -errno;
}

bool proc_stop(proc_t *p, int grace_ms)
{
    if (proc_poll(p) || p->pid <= 0)
        return p->exited;
    kill(p->pid, SIGTERM);
    if (proc_wait(p, grace_ms))
        return true;
    fprintf(stderr, "harness: %s did not exit within %d ms of SIGTERM: SIGKILL\n", p->name,
            grace_ms);
    kill(p->pid, SIGKILL);
    proc_wait(p, 5000);
    return false;
}

const char *proc_status_str(const proc_t *p, char *buf, size_t len)
{
    if (!p->exited)
        snprintf(buf, len, p->pid > 0 ? "running" : "not started");
    else if (WIFEXITED(p->status))
        snprintf(buf, len, "exit %d", WEXITSTATUS(p->status));
    else if (WIFSIGNALED(p->status))
        snprintf(buf, len, "signal %d (%s)", WTERMSIG(p->status), strsignal(WTERMSIG(p->status)));
    else
        snprintf(buf, len, "status 0x%x", p->status);
    return buf;
}

bool proc_exited_ok(const proc_t *p)
{
    return p->exited && WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0;
}

void proc_print_tail(const char *title, const char *path, int max_lines)
{
    FILE *f = fopen(path, "r");
    fprintf(stderr, "----- %s (%s) -----\n", title, path);
    if (f == NULL) {
        fprintf(stderr, "(no log)\n");
        return;
    }
    /* Two passes: count lines, then print the last max_lines. Logs of a test run are small. */
    int total = 0, ch, prev = '\n';
    while ((ch = fgetc(f)) != EOF) {
        if (ch == '\n')
            total++;
        prev = ch;
    }
    if (prev != '\n')
        total++;
    rewind(f);
    int skip = total > max_lines ? total - max_lines : 0;
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t l = strlen(line);
        bool whole = l > 0 && line[l - 1] == '\n';
        if (n >= skip)
            fputs(line, stderr);
        if (whole)
            n++;
    }
    if (prev != '\n')
        fputc('\n', stderr);
    fclose(f);
}
