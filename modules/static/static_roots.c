/*
 * modules/static/static_roots.c: the document roots, and opening files
 * beneath them.
 *
 * Each worker keeps a directory descriptor per DocumentRoot, re-opened
 * when the path comes to name another directory.  Files are opened
 * relative to it with openat2(2), whose RESOLVE_BENEATH and
 * RESOLVE_NO_SYMLINKS enforce StaticSymlinks in the kernel.  Where
 * openat2 is missing, or a path under "inside" leaves the root on the
 * way, the real path of what was opened is checked against the root's.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define MOD_STATIC_HAVE_OPENAT2_H   1
#endif
#endif

#include <cairn/cairn.h>

#include "mod_static.h"

#ifndef MOD_STATIC_HAVE_OPENAT2_H
struct open_how {
    uint64_t    flags;
    uint64_t    mode;
    uint64_t    resolve;
};
#define RESOLVE_NO_MAGICLINKS       0x02
#define RESOLVE_NO_SYMLINKS         0x04
#define RESOLVE_BENEATH             0x08
#endif

/* How often a worker looks whether DocumentRoot now names another
 * directory (a deploy that swaps a symlink). */
#define MOD_STATIC_ROOT_CHECK_US    1000000


static int mod_static_root_check(cairn_request_t *r, mod_static_root_t *root);
static int mod_static_openat2(int dirfd, const char *rel, int flags,
                              uint64_t resolve);
static int mod_static_contained(const mod_static_root_t *root, int fd,
                                const char *rel, int exact);


/* Per worker process: found or made on first use, freed in worker_exit. */
mod_static_root_t   *mod_static_roots;

/* Cleared when the kernel turns out to have no openat2(2). */
static int           mod_static_use_openat2 = 1;


/*
 * The scope's root, looked up by path among this worker's roots the
 * first time, and re-examined at most once a second.  NULL when it cannot
 * be opened (logged).
 */
mod_static_root_t *
mod_static_root(cairn_request_t *r, mod_static_conf_t *conf)
{
    mod_static_root_t  *root;
    size_t              len;
    uint64_t            now;

    root = conf->root;

    if (root == NULL) {
        len = strlen(conf->docroot);
        while (len > 1 && conf->docroot[len - 1] == '/') {
            len--;
        }

        for (root = mod_static_roots; root != NULL; root = root->next) {
            if (root->len == len && memcmp(root->path, conf->docroot, len)
                                    == 0)
            {
                break;
            }
        }

        if (root == NULL) {
            root = calloc(1, sizeof(*root) + len + 1);
            if (root == NULL) {
                cairn_log_error(r, ENOMEM, "DocumentRoot \"%s\"",
                                conf->docroot);
                return NULL;
            }
            memcpy(root->path, conf->docroot, len);
            root->len = len;
            root->fd = -1;
            root->next = mod_static_roots;
            mod_static_roots = root;
        }

        conf->root = root;
    }

    now = cairn_now_us();
    if (root->checked_us == 0 || now - root->checked_us
                                 >= MOD_STATIC_ROOT_CHECK_US)
    {
        root->checked_us = now != 0 ? now : 1;
        mod_static_root_check(r, root);
    }

    return root->fd >= 0 ? root : NULL;
}


/*
 * (Re)opens the root when it is not open or its path now names another
 * directory.  An open root whose path has gone away stays in use.
 * Returns 0, or -1 when the path cannot be opened (logged).
 */
static int
mod_static_root_check(cairn_request_t *r, mod_static_root_t *root)
{
    struct stat   st;
    char         *real;
    int           fd;

    if (root->fd >= 0) {
        if (stat(root->path, &st) != 0
            || (st.st_dev == root->dev && st.st_ino == root->ino))
        {
            return 0;
        }
    }

    fd = open(root->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        cairn_log_error(r, errno, "DocumentRoot: open(\"%s\") failed",
                        root->path);
        return -1;
    }

    if (fstat(fd, &st) != 0) {
        cairn_log_error(r, errno, "DocumentRoot: fstat(\"%s\") failed",
                        root->path);
        close(fd);
        return -1;
    }

    /* Used to check containment where openat2 cannot. */
    real = realpath(root->path, NULL);
    if (real == NULL) {
        cairn_log_warn(r, errno, "DocumentRoot: realpath(\"%s\") failed",
                       root->path);
    }

    if (root->fd >= 0) {
        cairn_log_info(r, "DocumentRoot \"%s\" now names another directory",
                       root->path);
        close(root->fd);
    }

    free(root->real);
    root->real = real;
    root->real_len = real != NULL ? strlen(real) : 0;
    root->fd = fd;
    root->dev = st.st_dev;
    root->ino = st.st_ino;

    /* Learn once whether the kernel (or a seccomp filter) has openat2. */
    if (mod_static_use_openat2) {
        fd = mod_static_openat2(root->fd, ".",
                                O_PATH | O_DIRECTORY | O_CLOEXEC,
                                RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
        if (fd >= 0) {
            close(fd);
        } else if (errno == ENOSYS || errno == EPERM) {
            cairn_log_notice(r, "openat2(2) is not available (%s): "
                             "checking symlinks with realpath(3)",
                             strerror(errno));
            mod_static_use_openat2 = 0;
        }
    }

    return 0;
}


/*
 * Opens rel below root with the StaticSymlinks policy links.  Returns the
 * descriptor, or -1 with errno; a path the policy refuses gives ENOENT
 * (and a debug line), so that it is answered like a missing file.
 */
int
mod_static_open(cairn_request_t *r, mod_static_root_t *root, const char *rel,
                int flags, int links)
{
    uint64_t  resolve;
    int       fd, err;

    if (mod_static_use_openat2) {
        resolve = RESOLVE_NO_MAGICLINKS;
        if (links == MOD_STATIC_LINKS_INSIDE) {
            resolve |= RESOLVE_BENEATH;
        } else if (links == MOD_STATIC_LINKS_OFF) {
            resolve |= RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
        }

        fd = mod_static_openat2(root->fd, rel, flags, resolve);
        if (fd >= 0) {
            return fd;
        }
        err = errno;

        if (err == EXDEV && links == MOD_STATIC_LINKS_INSIDE) {
            /*
             * The lookup left the root on the way, through an absolute
             * symlink or a "..".  The target may still be inside: open it
             * and look where it really is.
             */
            fd = mod_static_openat2(root->fd, rel, flags,
                                    RESOLVE_NO_MAGICLINKS);
            if (fd >= 0) {
                goto check;
            }
            err = errno;
        }

        if (err == ELOOP) {
            cairn_log_debug(r, "\"%s/%s\" refused: %s", root->path, rel,
                            links == MOD_STATIC_LINKS_OFF
                            ? "StaticSymlinks off"
                            : "a symlink loop or a link into /proc");
            errno = ENOENT;
            return -1;
        }

        if (err != ENOSYS) {
            errno = err;
            return -1;
        }

        mod_static_use_openat2 = 0;
    }

    fd = openat(root->fd, rel, flags);
    if (fd < 0 || links == MOD_STATIC_LINKS_ON) {
        return fd;
    }

check:

    if (!mod_static_contained(root, fd, rel, links == MOD_STATIC_LINKS_OFF)) {
        cairn_log_debug(r, "\"%s/%s\" refused: a symlink leads %s",
                        root->path, rel,
                        links == MOD_STATIC_LINKS_OFF
                        ? "somewhere (StaticSymlinks off)"
                        : "outside DocumentRoot");
        close(fd);
        errno = ENOENT;
        return -1;
    }

    return fd;
}


/* openat2(2), retried a few times on EAGAIN (a rename raced with a
 * RESOLVE_BENEATH lookup); ENOSYS where the headers lack it. */
static int
mod_static_openat2(int dirfd, const char *rel, int flags, uint64_t resolve)
{
#ifdef SYS_openat2
    struct open_how  how;
    int              fd, tries;

    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t) flags;
    how.resolve = resolve;

    for (tries = 0; ; tries++) {
        fd = (int) syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
        if (fd >= 0 || errno != EAGAIN || tries == 3) {
            return fd;
        }
    }
#else
    errno = ENOSYS;
    return -1;
#endif
}


/*
 * Whether the file open on fd lies inside the root (exact: is exactly
 * root/rel, so that no symlink was followed on the way).  The real path
 * comes from /proc/self/fd, which names the very file opened; without
 * /proc it comes from resolving root/rel again.  Fails closed.
 */
static int
mod_static_contained(const mod_static_root_t *root, int fd, const char *rel,
                     int exact)
{
    char    proc[32], buf[PATH_MAX], want[PATH_MAX];
    size_t  n, rlen;
    int     len;

    if (root->real == NULL) {
        return 0;
    }

    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    if (realpath(proc, buf) == NULL) {
        len = snprintf(want, sizeof(want), "%s/%s", root->path, rel);
        if (len < 0 || (size_t) len >= sizeof(want)
            || realpath(want, buf) == NULL)
        {
            return 0;
        }
    }

    n = root->real_len;

    if (exact) {
        rlen = strlen(rel);
        while (rlen > 0 && rel[rlen - 1] == '/') {
            rlen--;
        }
        if (rlen == 1 && rel[0] == '.') {
            rlen = 0;
        }
        if (rlen == 0) {
            return strcmp(buf, root->real) == 0;
        }
        len = snprintf(want, sizeof(want), "%s/%.*s",
                       n == 1 ? "" : root->real, (int) rlen, rel);
        return len > 0 && (size_t) len < sizeof(want)
               && strcmp(buf, want) == 0;
    }

    if (strncmp(buf, root->real, n) != 0) {
        return 0;
    }

    /* A root of "/" contains everything. */
    return n == 1 || buf[n] == '\0' || buf[n] == '/';
}
