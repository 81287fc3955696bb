/* bpftime-launch: start a command stopped at its entry point, and be its parent.
 *
 *   bpftime-launch FD CMD [ARGS...]
 *
 * `run` needs CMD's exit status, and it needs CMD stopped with its libraries loaded
 * while frida injects the agent. frida runs inside the controller, and it ptrace-
 * attaches to the process again later on its own (to free its bootstrap memory when
 * its agent stops, which happens as the process exits). A tracer that is the
 * process's parent (same thread group) consumes the exit status with its waitpid;
 * a tracer that is not hands the zombie back to the real parent. So the real parent
 * is this small program, not the controller: whatever frida waits for, the status
 * comes here, and goes to the controller through FD.
 *
 * What it does: fork; the child asks to be traced and execs CMD; the parent runs it
 * to its entry point (AT_ENTRY: an int3 there, run, undo it), detaches it with
 * SIGSTOP pending, waits until it is stopped, and writes to FD
 *
 *   "pid <n>\n"            CMD is stopped at its entry point, ready for frida
 *   "status <w>\n"         later: CMD's raw wait status (exited or killed)
 *   "error <message>\n"    CMD could not be started (then exit status 127)
 *
 * It ignores the terminal's SIGINT/SIGQUIT (Ctrl-C reaches CMD through the process
 * group or the controller forwards it) so that it outlives CMD; CMD gets the default
 * dispositions back before exec. x86_64 Linux, like the agent.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int g_fd = -1;

static void say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(buf))
        n = sizeof(buf) - 1;
    for (int off = 0; off < n;) {
        ssize_t w = write(g_fd, buf + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        off += (int)w;
    }
}

static int fail(pid_t pid, const char *what)
{
    say("error %s: %s\n", what, strerror(errno));
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return 127;
}

static int wait_trap(pid_t pid, const char *where)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return fail(pid, "waitpid");
    if (WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP)
        return 0;
    if (WIFSTOPPED(st)) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    say("error it did not stop at %s (wait status %#x); could it be executed?\n", where, st);
    return 127;
}

static uint64_t entry_point(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/auxv", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    Elf64_auxv_t av;
    uint64_t entry = 0;
    while (read(fd, &av, sizeof(av)) == (ssize_t)sizeof(av) && av.a_type != AT_NULL)
        if (av.a_type == AT_ENTRY)
            entry = av.a_un.a_val;
    close(fd);
    return entry;
}

static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may contain anything */
    return p && p[1] == ' ' ? p[2] : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bpftime-launch FD CMD [ARGS...]\n");
        return 2;
    }
    g_fd = atoi(argv[1]);
    fcntl(g_fd, F_SETFD, FD_CLOEXEC);
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);

    pid_t pid = fork();
    if (pid < 0)
        return fail(0, "fork");
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        execvp(argv[2], argv + 2);
        _exit(127);
    }
    int rc = wait_trap(pid, "exec");
    if (rc)
        return rc;
    uint64_t entry = entry_point(pid);
    if (!entry) {
        errno = ENOENT;
        return fail(pid, "no AT_ENTRY in its auxiliary vector");
    }
    errno = 0;
    long word = ptrace(PTRACE_PEEKTEXT, pid, (void *)entry, NULL);
    if (errno)
        return fail(pid, "ptrace peek");
    if (ptrace(PTRACE_POKETEXT, pid, (void *)entry, (void *)((word & ~0xffL) | 0xcc)) < 0)
        return fail(pid, "ptrace poke");
    if (ptrace(PTRACE_CONT, pid, NULL, NULL) < 0)
        return fail(pid, "ptrace cont");
    rc = wait_trap(pid, "its entry point");
    if (rc)
        return rc;
    struct user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) < 0)
        return fail(pid, "ptrace getregs");
    regs.rip = entry;
    if (ptrace(PTRACE_SETREGS, pid, NULL, &regs) < 0 ||
        ptrace(PTRACE_POKETEXT, pid, (void *)entry, (void *)word) < 0)
        return fail(pid, "ptrace setregs/poke");
    if (ptrace(PTRACE_DETACH, pid, NULL, (void *)(uintptr_t)SIGSTOP) < 0)
        return fail(pid, "ptrace detach");
    /* the SIGSTOP lands when the process next runs: report it once it is stopped, or
     * frida could attach first, take the stop for its own and let the process run on */
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 5000; i++) {
        char s = proc_state(pid);
        if (s == 'T' || s == 't')
            break;
        nanosleep(&ms, NULL);
    }
    say("pid %d\n", (int)pid);
    int st;
    for (;;) {
        if (waitpid(pid, &st, 0) < 0) {
            if (errno == EINTR)
                continue;
            return fail(0, "waitpid");
        }
        if (WIFEXITED(st) || WIFSIGNALED(st))
            break;
    }
    say("status %d\n", st);
    return 0;
}
