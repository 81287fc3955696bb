/* The map-related helpers of bt_helpers.h (ids 1-3, 25, 87-89, 130-134, 164)
 * and bpf_printk's writer, bt_trace__write.
 *
 * A helper that hands a program memory of a map (map_lookup_elem,
 * ringbuf_reserve, for_each_map_elem's callback arguments) makes that map's
 * data area a region of the run context, so the interpreter accepts accesses
 * to it (writable unless the map has BT_F_RDONLY_PROG); the region is added
 * once per map and run, so lookups in a loop do not exhaust the context's
 * BT_MAX_REGIONS.
 */
#ifndef BT_HELPERS_MAP_H
#define BT_HELPERS_MAP_H

#include <stddef.h>

#include "bt_ctx.h"

/* Fill table[id] with the map helpers (ids >= n are skipped). */
void bt_helpers__fill_maps(bt_helper_fn *table, size_t n);

#endif
