/* output.c — see output.h. */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int output_open(struct output *o, const char *path, struct lts_error *err)
{
    size_t n = strlen(path);
    o->path = path;
    if (!(o->tmp = malloc(n + 32)))
        return lts_fail(err, "out of memory");
    snprintf(o->tmp, n + 32, "%s.tmp-%ld-XXXXXX", path, (long)getpid());
    int fd = mkostemp(o->tmp, O_CLOEXEC); /* O_EXCL, 0600 */
    if (fd < 0 || !(o->out = fdopen(fd, "w"))) {
        lts_fail(err, "%s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(o->tmp);
        }
        free(o->tmp);
        o->tmp = NULL;
        return -1;
    }
    return 0;
}

int output_close(struct output *o, bool keep, struct lts_error *err)
{
    bool failed = fflush(o->out) != 0 || ferror(o->out);
    int saved = errno;
    if (!o->tmp)
        return failed ? lts_fail(err, "writing the report failed") : 0;
    failed |= fclose(o->out) != 0;
    if (!failed && keep && rename(o->tmp, o->path) != 0) {
        saved = errno;
        failed = true;
    }
    if (failed || !keep)
        unlink(o->tmp);
    free(o->tmp);
    o->tmp = NULL;
    return failed ? lts_fail(err, "%s: %s", o->path, strerror(saved ? saved : EIO)) : 0;
}
