/*
 * tests/fuzz/fuzz.h: what every fuzz target shares.
 *
 * A target defines LLVMFuzzerTestOneInput (and LLVMFuzzerInitialize
 * when it needs a setup once per process).  libFuzzer calls them in a
 * fuzzing build; replay.c calls them over a corpus in make check.  Each
 * call must leave nothing behind: whatever it allocates is freed before
 * it returns, so the leak checker reports only real leaks.
 */

#ifndef CAIRN_FUZZ_H
#define CAIRN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A NUL-terminated malloc'ed copy of data (exactly size + 1 bytes, so
 * the sanitizers see a read past its end). */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
    char  *s = malloc(size + 1);

    if (s == NULL) {
        abort();
    }
    if (size > 0) {
        memcpy(s, data, size);
    }
    s[size] = '\0';

    return s;
}

/*
 * Splits data on sep (a byte) into at most max NUL-terminated parts of
 * one malloc'ed copy; the parts missing are "".  Returns the copy, to be
 * freed by the caller.
 */
static inline char *
fuzz_split(const uint8_t *data, size_t size, char sep, char **parts,
           size_t max)
{
    char    *s = fuzz_strndup(data, size);
    char    *p = s, *q;
    size_t   i;

    for (i = 0; i < max; i++) {
        parts[i] = p;
        if (i + 1 < max && (q = memchr(p, sep, size - (size_t) (p - s)))
                           != NULL)
        {
            *q = '\0';
            p = q + 1;
        } else {
            p = s + size;
        }
    }

    return s;
}

#endif /* CAIRN_FUZZ_H */
