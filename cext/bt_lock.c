/* The robust pid-owner spinlock of bt_lock.h.
 *
 * Fast path: one compare-and-swap 0 -> pid. Slow path: spin with a pause,
 * yield the CPU every few dozen spins (holders may be descheduled: processes
 * share few cores), and every BT_LOCK_CHECK_SPINS spins ask the kernel whether
 * the holder still exists; a dead holder's lock is taken over with a CAS from
 * its pid, so two waiters cannot both take it over.
 *
 * Does not detect a holder that is alive but stuck (stopped, deadlocked), nor
 * a dead holder whose pid was already reused by another process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include "bt_lock.h"

#define BT_LOCK_YIELD_SPINS 64
#define BT_LOCK_CHECK_SPINS 1024

/* getpid() is a system call on current glibc; cache it and forget it in a fork child */
static uint32_t cached_pid;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void forget_pid(void)
{
    __atomic_store_n(&cached_pid, 0, __ATOMIC_RELAXED);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, forget_pid);
}

static uint32_t self_pid(void)
{
    uint32_t pid = __atomic_load_n(&cached_pid, __ATOMIC_RELAXED);
    if (pid == 0) {
        pthread_once(&atfork_once, register_atfork);
        pid = (uint32_t)getpid();
        __atomic_store_n(&cached_pid, pid, __ATOMIC_RELAXED);
    }
    return pid;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static int holder_dead(uint32_t pid)
{
    int saved = errno; /* helpers run inside traced processes: leave their errno alone */
    int dead = kill((pid_t)pid, 0) == -1 && errno == ESRCH;
    errno = saved;
    return dead;
}

static inline int try_cas(bt_lock *l, uint32_t from, uint32_t to)
{
    return __atomic_compare_exchange_n(&l->owner, &from, to, 0, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

int bt_lock__acquire_takeover(bt_lock *l)
{
    uint32_t me = self_pid();
    if (try_cas(l, 0, me))
        return 0;
    for (uint32_t spins = 1;; spins++) {
        uint32_t cur = __atomic_load_n(&l->owner, __ATOMIC_RELAXED);
        if (cur == 0) {
            if (try_cas(l, 0, me))
                return 0;
            continue;
        }
        /* cur == me: another thread of this process holds it; never take that over */
        if (spins % BT_LOCK_CHECK_SPINS == 0 && cur != me && holder_dead(cur) &&
            try_cas(l, cur, me))
            return 1;
        if (spins % BT_LOCK_YIELD_SPINS == 0)
            sched_yield();
        else
            cpu_relax();
    }
}

void bt_lock__acquire(bt_lock *l)
{
    (void)bt_lock__acquire_takeover(l);
}

void bt_lock__release(bt_lock *l)
{
    __atomic_store_n(&l->owner, 0, __ATOMIC_RELEASE);
}
