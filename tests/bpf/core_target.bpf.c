// Types that play the target's ("the kernel's") side in the generic CO-RE
// tests: bitfields, an anonymous union, arrays, an enum, a typedef.
#include <linux/bpf.h>

enum state {
	S_RUN = 1,
	S_SLEEP = 4,
	S_DEAD = 8,
};

struct task {
	int pid;		/* offset 0 */
	unsigned int a : 3;	/* bits 32..34 */
	unsigned int b : 5;	/* bits 35..39 */
	int c : 7;		/* bits 40..46 */
	union {			/* offset 8 */
		long x;
		int y;
	};
	char comm[16];		/* offset 16 */
	enum state st;		/* offset 32 */
	struct task *parent;	/* offset 40 */
	unsigned long long arr[3][4]; /* offset 48 */
	short sval;		/* offset 144; size 152 */
};

typedef struct task task_t;

task_t target_task;
