/*
 * tests/fuzz/replay.c: runs a fuzz target over files, without libFuzzer
 * (make check builds one per target with the normal compiler).
 *
 * Usage: replay_NAME FILE-OR-DIRECTORY...  Each file named, and each
 * regular file in a directory named (in name order), is given once to
 * LLVMFuzzerTestOneInput, after LLVMFuzzerInitialize when the target
 * has one.  The exit status is 0 when every input ran; an input that
 * trips the target's checks or the sanitizers aborts the program, with
 * its name printed first.
 */

#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int  replay_count;


static int
replay_file(const char *path)
{
    struct stat   st;
    uint8_t      *buf;
    FILE         *f;
    size_t        n;

    f = fopen(path, "rb");
    if (f == NULL || fstat(fileno(f), &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }

    /* Exactly the input's size: a read past its end is seen. */
    buf = malloc(st.st_size > 0 ? (size_t) st.st_size : 1);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, (size_t) st.st_size, f);
    fclose(f);

    fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    replay_count++;

    return 0;
}


static int
replay_dir_cmp(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}


static int
replay_path(const char *path)
{
    struct dirent  **names;
    struct stat      st;
    char            *sub;
    int              i, n, rc = 0;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        return replay_file(path);
    }

    n = scandir(path, &names, NULL, replay_dir_cmp);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            sub = malloc(strlen(path) + strlen(names[i]->d_name) + 2);
            if (sub == NULL) {
                return -1;
            }
            sprintf(sub, "%s/%s", path, names[i]->d_name);
            if (stat(sub, &st) == 0 && S_ISREG(st.st_mode)
                && replay_file(sub) != 0)
            {
                rc = -1;
            }
            free(sub);
        }
        free(names[i]);
    }
    free(names);

    return rc;
}


int
main(int argc, char **argv)
{
    int  i, rc = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
        return 2;
    }

    if (LLVMFuzzerInitialize != NULL) {
        LLVMFuzzerInitialize(&argc, &argv);
    }

    for (i = 1; i < argc; i++) {
        if (replay_path(argv[i]) != 0) {
            rc = 1;
        }
    }

    fprintf(stderr, "replay: %d inputs\n", replay_count);

    return rc != 0 || replay_count == 0 ? 1 : 0;
}
