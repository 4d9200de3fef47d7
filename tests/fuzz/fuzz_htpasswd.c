/*
 * tests/fuzz/fuzz_htpasswd.c: mod_auth's password and token file reader
 * (modules/auth/auth_util.c), with the Authorization header parsers
 * beside it.
 *
 * Input: one byte (bit 0: a token file rather than a password file),
 * then the file's bytes, written to a scratch file the reader opens.
 * The table is looked up with the name and the text of each line's
 * start, and the input's last line is parsed as a Basic and as a Bearer
 * Authorization value.
 */

#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "fuzz.h"

#include "auth/auth.h"


static char  fuzz_dir[64];
static char  fuzz_file[96];


static void
fuzz_cleanup(void)
{
    unlink(fuzz_file);
    rmdir(fuzz_dir);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char  *tmp = getenv("TMPDIR");

    snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/cairn-fuzz-XXXXXX",
             tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
    if (mkdtemp(fuzz_dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    snprintf(fuzz_file, sizeof(fuzz_file), "%s/users", fuzz_dir);
    atexit(fuzz_cleanup);

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mod_auth_table_t  *t;
    cairn_arena_t     *a;
    FILE              *f;
    char              *text, *line, *colon, *last, err[512];
    const char        *user, *password;
    size_t             i;
    int                kind;

    if (size == 0) {
        return 0;
    }
    kind = (data[0] & 1) ? MOD_AUTH_FILE_TOKENS : MOD_AUTH_FILE_PASSWD;
    data++;
    size--;

    f = fopen(fuzz_file, "w");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        perror(fuzz_file);
        abort();
    }

    text = fuzz_strndup(data, size);

    err[0] = '\0';
    t = mod_auth_table_load(fuzz_file, kind, err, sizeof(err));
    if (t == NULL && err[0] == '\0') {
        fprintf(stderr, "a file refused without a reason\n");
        abort();
    }
    if (t != NULL) {
        for (i = 1; i < t->n; i++) {
            if (strcmp(t->v[i - 1].user, t->v[i].user) > 0) {
                fprintf(stderr, "the table is not sorted\n");
                abort();
            }
        }
        for (line = text; line != NULL; ) {
            char  *nl = strchr(line, '\n');

            if (nl != NULL) {
                *nl = '\0';
            }
            colon = strchr(line, ':');
            if (colon != NULL) {
                *colon = '\0';
                mod_auth_table_find(t, line);
                /* mod_auth looks tokens up only in token tables. */
                if (kind == MOD_AUTH_FILE_TOKENS) {
                    mod_auth_table_token(t, colon + 1);
                }
            }
            line = nl != NULL ? nl + 1 : NULL;
        }
        mod_auth_table_free(t);
    }

    /* The last line. */
    for (i = size; i > 0 && data[i - 1] != '\n'; i--) {
        continue;
    }
    last = fuzz_strndup(data + i, size - i);
    a = cairn_arena_create(0);
    if (mod_auth_basic_parse(a, last, &user, &password) == 0
        && (user == NULL || password == NULL || user[0] == '\0'))
    {
        fprintf(stderr, "Basic credentials without a user\n");
        abort();
    }
    mod_auth_bearer_token(last);
    cairn_arena_destroy(a);

    free(last);
    free(text);

    return 0;
}
