/*
 * core/conf_source.c: what the configuration's files held when it was
 * read.
 *
 * A reload is checked in a child process and then loaded again by the
 * master.  Reading the files twice would let a file that changes in
 * between (an editor saving, a ConfigMap update) make the master load
 * something the check never saw.  So the check records every file it
 * reads and every Include pattern's matches into a source, sends the
 * source back through its pipe, and the master parses exactly those
 * bytes again (replay): the generation it loads is the one that passed.
 * The master keeps the running generation's source too, to load it again
 * if the new one cannot be loaded after all.
 *
 * A source is plain malloc() memory so that it outlives the generations
 * that read it.
 */

#include "config.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arena_int.h"
#include "conf_int.h"


#define CONF_SOURCE_MAGIC       "cairn-conf-source 1\n"

typedef struct {
    char                    *path;
    char                    *text;
    size_t                   len;
    uint64_t                 dev;
    uint64_t                 ino;
} conf_source_file_t;

typedef struct {
    char                    *pattern;
    cairn__conf_match_t     *v;
    size_t                   n;
} conf_source_glob_t;

struct cairn__conf_source_s {
    int                      replay;
    conf_source_file_t      *files;
    size_t                   nfiles;
    conf_source_glob_t      *globs;
    size_t                   nglobs;
};


static void *
conf_source_grow(void *v, size_t n, size_t size)
{
    void  *p;

    /* Doubling sizes: 1, 2, 4, ... */
    if (n != 0 && (n & (n - 1)) != 0) {
        return v;
    }
    p = realloc(v, (n == 0 ? 1 : n * 2) * size);
    if (p == NULL) {
        cairn__oom(n * size);
    }

    return p;
}


static char *
conf_source_dup(const char *s, size_t len)
{
    char  *p = malloc(len + 1);

    if (p == NULL) {
        cairn__oom(len + 1);
    }
    memcpy(p, s, len);
    p[len] = '\0';

    return p;
}


cairn__conf_source_t *
cairn__conf_source_new(void)
{
    cairn__conf_source_t  *src = calloc(1, sizeof(*src));

    if (src == NULL) {
        cairn__oom(sizeof(*src));
    }

    return src;
}


void
cairn__conf_source_free(cairn__conf_source_t *src)
{
    size_t  i, k;

    if (src == NULL) {
        return;
    }
    for (i = 0; i < src->nfiles; i++) {
        free(src->files[i].path);
        free(src->files[i].text);
    }
    for (i = 0; i < src->nglobs; i++) {
        for (k = 0; k < src->globs[i].n; k++) {
            free((char *) src->globs[i].v[k].path);
        }
        free(src->globs[i].v);
        free(src->globs[i].pattern);
    }
    free(src->files);
    free(src->globs);
    free(src);
}


void
cairn__conf_source_replay(cairn__conf_source_t *src)
{
    src->replay = 1;
}


/*
 * The whole file at path, with its device, inode and type; recorded, or
 * taken from the recording.  Returns 0, or -1 with *err saying why (a
 * file the recording lacks is "not found": the parse went elsewhere).
 */
int
cairn__conf_source_file(cairn__conf_source_t *src, const char *path,
                        const char **text, size_t *len, struct stat *st,
                        const char **err)
{
    conf_source_file_t  *f;
    FILE                *fp;
    char                *buf;
    size_t               i, n;

    for (i = 0; i < src->nfiles; i++) {
        if (strcmp(src->files[i].path, path) == 0) {
            f = &src->files[i];
            memset(st, 0, sizeof(*st));
            st->st_mode = S_IFREG;
            st->st_dev = (dev_t) f->dev;
            st->st_ino = (ino_t) f->ino;
            st->st_size = (off_t) f->len;
            *text = f->text;
            *len = f->len;
            return 0;
        }
    }
    if (src->replay) {
        *err = "not in the configuration that was checked";
        return -1;
    }

    fp = fopen(path, "r");
    if (fp == NULL) {
        *err = strerror(errno);
        return -1;
    }
    if (fstat(fileno(fp), st) != 0) {
        *err = strerror(errno);
        fclose(fp);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        /* Not read: /dev/zero would never end. */
        fclose(fp);
        *text = NULL;
        *len = 0;
        return 0;
    }
    buf = malloc((size_t) st->st_size + 1);
    if (buf == NULL) {
        cairn__oom((size_t) st->st_size + 1);
    }
    n = fread(buf, 1, (size_t) st->st_size, fp);
    buf[n] = '\0';
    fclose(fp);

    src->files = conf_source_grow(src->files, src->nfiles, sizeof(*f));
    f = &src->files[src->nfiles++];
    f->path = conf_source_dup(path, strlen(path));
    f->text = buf;
    f->len = n;
    f->dev = (uint64_t) st->st_dev;
    f->ino = (uint64_t) st->st_ino;
    st->st_size = (off_t) n;

    *text = buf;
    *len = n;

    return 0;
}


/*
 * The files an Include pattern names, sorted (a directory stands for
 * everything in it), with their types; recorded, or taken from the
 * recording.  Returns 0, or -1 when the directory cannot be read.
 */
int
cairn__conf_source_glob(cairn__conf_source_t *src, const char *pattern,
                        const cairn__conf_match_t **v, size_t *n)
{
    conf_source_glob_t   *g;
    cairn__conf_match_t  *m;
    struct stat           st;
    glob_t                gl;
    const char           *full = pattern;
    char                 *dir = NULL;
    size_t                i;
    int                   rc;

    for (i = 0; i < src->nglobs; i++) {
        if (strcmp(src->globs[i].pattern, pattern) == 0) {
            *v = src->globs[i].v;
            *n = src->globs[i].n;
            return 0;
        }
    }
    if (src->replay) {
        *v = NULL;
        *n = 0;
        return 0;
    }

    if (stat(pattern, &st) == 0 && S_ISDIR(st.st_mode)) {
        dir = malloc(strlen(pattern) + 3);
        if (dir == NULL) {
            cairn__oom(strlen(pattern) + 3);
        }
        sprintf(dir, "%s/*", pattern);
        full = dir;
    }

    rc = glob(full, 0, NULL, &gl);
    free(dir);
    if (rc != 0 && rc != GLOB_NOMATCH) {
        return -1;
    }

    src->globs = conf_source_grow(src->globs, src->nglobs, sizeof(*g));
    g = &src->globs[src->nglobs++];
    g->pattern = conf_source_dup(pattern, strlen(pattern));
    g->n = rc == 0 ? gl.gl_pathc : 0;
    g->v = calloc(g->n ? g->n : 1, sizeof(*m));
    if (g->v == NULL) {
        cairn__oom(g->n * sizeof(*m));
    }

    for (i = 0; i < g->n; i++) {
        m = &g->v[i];
        m->path = conf_source_dup(gl.gl_pathv[i], strlen(gl.gl_pathv[i]));
        /* stat() follows symlinks: ConfigMap files are links to ..data. */
        if (stat(m->path, &st) != 0) {
            m->kind = CAIRN__MATCH_GONE;
            m->err = errno;
        } else {
            m->kind = S_ISDIR(st.st_mode) ? CAIRN__MATCH_DIR
                      : S_ISREG(st.st_mode) ? CAIRN__MATCH_FILE
                      : CAIRN__MATCH_OTHER;
        }
    }
    if (rc == 0) {
        globfree(&gl);
    }

    *v = g->v;
    *n = g->n;

    return 0;
}


/* ------------------------------------------------------------------ */
/* Across a pipe                                                      */
/* ------------------------------------------------------------------ */

static int
conf_source_put(FILE *out, const void *p, size_t n)
{
    return fwrite(p, 1, n, out) == n ? 0 : -1;
}


static int
conf_source_put_str(FILE *out, const char *s, size_t n)
{
    uint64_t  len = n;

    return conf_source_put(out, &len, sizeof(len)) == 0
           && conf_source_put(out, s, n) == 0 ? 0 : -1;
}


/* Writes src to out (the child's side of the check's pipe). */
int
cairn__conf_source_write(const cairn__conf_source_t *src, FILE *out)
{
    uint64_t  h[4];
    size_t    i, k;

    if (conf_source_put(out, CONF_SOURCE_MAGIC,
                        sizeof(CONF_SOURCE_MAGIC) - 1) != 0)
    {
        return -1;
    }

    h[0] = src->nfiles;
    h[1] = src->nglobs;
    if (conf_source_put(out, h, 2 * sizeof(h[0])) != 0) {
        return -1;
    }

    for (i = 0; i < src->nfiles; i++) {
        h[0] = src->files[i].dev;
        h[1] = src->files[i].ino;
        if (conf_source_put_str(out, src->files[i].path,
                                strlen(src->files[i].path)) != 0
            || conf_source_put(out, h, 2 * sizeof(h[0])) != 0
            || conf_source_put_str(out, src->files[i].text,
                                   src->files[i].len) != 0)
        {
            return -1;
        }
    }

    for (i = 0; i < src->nglobs; i++) {
        h[0] = src->globs[i].n;
        if (conf_source_put_str(out, src->globs[i].pattern,
                                strlen(src->globs[i].pattern)) != 0
            || conf_source_put(out, h, sizeof(h[0])) != 0)
        {
            return -1;
        }
        for (k = 0; k < src->globs[i].n; k++) {
            h[0] = (uint64_t) src->globs[i].v[k].kind;
            h[1] = (uint64_t) src->globs[i].v[k].err;
            if (conf_source_put_str(out, src->globs[i].v[k].path,
                                    strlen(src->globs[i].v[k].path)) != 0
                || conf_source_put(out, h, 2 * sizeof(h[0])) != 0)
            {
                return -1;
            }
        }
    }

    return 0;
}


typedef struct {
    const char  *p;
    size_t       left;
} conf_source_in_t;


static int
conf_source_get(conf_source_in_t *in, void *dst, size_t n)
{
    if (in->left < n) {
        return -1;
    }
    memcpy(dst, in->p, n);
    in->p += n;
    in->left -= n;

    return 0;
}


static char *
conf_source_get_str(conf_source_in_t *in, size_t *lenp)
{
    uint64_t  len;
    char     *s;

    if (conf_source_get(in, &len, sizeof(len)) != 0 || len > in->left) {
        return NULL;
    }
    s = conf_source_dup(in->p, (size_t) len);
    in->p += len;
    in->left -= (size_t) len;
    if (lenp != NULL) {
        *lenp = (size_t) len;
    }

    return s;
}


/* A source from what cairn__conf_source_write() wrote, ready to replay;
 * NULL when the bytes are not one. */
cairn__conf_source_t *
cairn__conf_source_read(const char *buf, size_t len)
{
    cairn__conf_source_t  *src;
    conf_source_in_t       in;
    conf_source_file_t    *f;
    conf_source_glob_t    *g;
    uint64_t               h[2], nfiles, nglobs, n;
    size_t                 i, k;

    in.p = buf;
    in.left = len;
    if (len < sizeof(CONF_SOURCE_MAGIC) - 1
        || memcmp(buf, CONF_SOURCE_MAGIC, sizeof(CONF_SOURCE_MAGIC) - 1)
           != 0)
    {
        return NULL;
    }
    in.p += sizeof(CONF_SOURCE_MAGIC) - 1;
    in.left -= sizeof(CONF_SOURCE_MAGIC) - 1;

    src = cairn__conf_source_new();
    src->replay = 1;

    if (conf_source_get(&in, h, 2 * sizeof(h[0])) != 0
        || h[0] > len || h[1] > len)
    {
        goto bad;
    }
    nfiles = h[0];
    nglobs = h[1];

    for (i = 0; i < nfiles; i++) {
        src->files = conf_source_grow(src->files, src->nfiles, sizeof(*f));
        f = &src->files[src->nfiles];
        memset(f, 0, sizeof(*f));
        f->path = conf_source_get_str(&in, NULL);
        if (f->path == NULL || conf_source_get(&in, h, 2 * sizeof(h[0])) != 0)
        {
            free(f->path);
            goto bad;
        }
        f->dev = h[0];
        f->ino = h[1];
        f->text = conf_source_get_str(&in, &f->len);
        if (f->text == NULL) {
            free(f->path);
            goto bad;
        }
        src->nfiles++;
    }

    for (i = 0; i < nglobs; i++) {
        src->globs = conf_source_grow(src->globs, src->nglobs, sizeof(*g));
        g = &src->globs[src->nglobs];
        memset(g, 0, sizeof(*g));
        g->pattern = conf_source_get_str(&in, NULL);
        if (g->pattern == NULL || conf_source_get(&in, &n, sizeof(n)) != 0
            || n > len)
        {
            free(g->pattern);
            goto bad;
        }
        g->v = calloc(n ? n : 1, sizeof(*g->v));
        if (g->v == NULL) {
            cairn__oom(n * sizeof(*g->v));
        }
        src->nglobs++;
        for (k = 0; k < n; k++) {
            g->v[k].path = conf_source_get_str(&in, NULL);
            if (g->v[k].path == NULL
                || conf_source_get(&in, h, 2 * sizeof(h[0])) != 0)
            {
                free((char *) g->v[k].path);
                goto bad;
            }
            g->v[k].kind = (int) h[0];
            g->v[k].err = (int) h[1];
            g->n++;
        }
    }

    if (in.left != 0) {
        goto bad;
    }

    return src;

bad:

    cairn__conf_source_free(src);

    return NULL;
}
