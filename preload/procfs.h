/* procfs.h — what the kernel says about this process: /proc/self/{status,smaps,cmdline,exe,
 * stat}, read with plain syscalls into caller buffers. Never calls malloc or stdio. */
#ifndef LT_PROCFS_H
#define LT_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads a whole (small) file into buf, NUL-terminated. Returns the length or -errno. */
ssize_t lt_proc_read(const char *path, char *buf, size_t size);

struct lt_proc_status {
    uint64_t vm_size, vm_peak, vm_rss, vm_hwm, rss_anon, rss_file, vm_stack, vm_data;
    uint64_t threads;
};
int lt_proc_status(struct lt_proc_status *out);

/* One mapping of /proc/self/smaps; sizes in bytes. */
struct lt_proc_map {
    uint64_t start, end, offset, inode;
    char perms[5];
    const char *path; /* "" for anonymous; valid during the callback only */
    uint64_t rss, private_dirty, swap, anonymous;
};
typedef void (*lt_proc_map_fn)(const struct lt_proc_map *m, void *ctx);

/* Calls fn for every mapping. `scratch` (at least 64 KiB) is the read buffer. */
int lt_proc_maps(lt_proc_map_fn fn, void *ctx, char *scratch, size_t scratch_size);

/* Threads of this process that have not ended (zombies are not counted), or -errno. */
int lt_proc_live_threads(void);

/* Wall-clock time the process started, in ns since the epoch (0 if unknown). */
uint64_t lt_proc_start_time_ns(void);

#endif
