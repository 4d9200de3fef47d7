/* Compiles llhttp's http.c from the node-llhttp package (see configure). */
#include LLHTTP_SOURCE_HTTP
