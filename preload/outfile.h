/* outfile.h — where a snapshot goes: the LEAKTAG_OUTPUT template expanded (%p %n %e %t %%,
 * relative to the directory the process started in), a temporary file next to it (created
 * 0600, O_EXCL|O_NOFOLLOW), and the rename that puts the complete file in place, so that no
 * reader ever sees half a file. No malloc, no stdio. */
#ifndef LT_OUTFILE_H
#define LT_OUTFILE_H

#include <stddef.h>
#include <stdint.h>

#include "options.h"

struct lt_outfile {
    int fd;
    uint64_t dev, ino; /* of the file, once committed */
    char tmp_path[LT_PATH_MAX];
    char path[LT_PATH_MAX];
};

/* Remembers the starting directory (from the constructor). */
void lt_outfile_init(void);

/* The template as an absolute one (relative ones start from the starting directory). */
void lt_outfile_template(char *out, size_t size, const char *tmpl);

/* Expands the template for snapshot number seq and creates the temporary file. Returns 0
 * or -errno; on success f->fd is open for writing. */
int lt_outfile_open(struct lt_outfile *f, const char *template, uint32_t seq);

/* Closes and renames into place; on error the temporary file is removed. Returns 0 or -errno
 * (write_error, an earlier -errno of the writer, counts as the first). */
int lt_outfile_commit(struct lt_outfile *f, int write_error);

/* Closes and removes the temporary file. */
void lt_outfile_abort(struct lt_outfile *f);

/* Removes a committed file, if path still names the file it was (same device and inode):
 * never one that something else put there since. */
void lt_outfile_remove(const char *path, uint64_t dev, uint64_t ino);

#endif
