/* A spinlock for shared memory that survives the death of its holder.
 *
 * The lock word holds the holder's pid (0 = free). A waiter that has spun for a
 * while checks whether that pid still exists (kill(pid, 0) == ESRCH) and, if it
 * does not, takes the lock over with a compare-and-swap. Structures guarded by
 * a bt_lock must therefore be consistent at every store a holder makes, or at
 * least usable: the conventions in bt_map.h (fill an element completely, then
 * publish it with one store) keep them so.
 *
 * Threads of one process share a pid; a thread that dies alone while holding a
 * lock is not detected (the kernel does not let threads die alone in practice:
 * a crash kills the whole process).
 */
#ifndef BT_LOCK_H
#define BT_LOCK_H

#include <stdint.h>

typedef struct bt_lock {
    uint32_t owner; /* pid of the holder, 0 when free */
} bt_lock;

void bt_lock__acquire(bt_lock *l);
/* Like bt_lock__acquire; returns 1 when the lock was taken over from a dead
 * holder (the guarded structure may then need repair), 0 otherwise. */
int bt_lock__acquire_takeover(bt_lock *l);
void bt_lock__release(bt_lock *l);

#endif
