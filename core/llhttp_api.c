/* Compiles llhttp's api.c from the node-llhttp package (see configure). */
#include LLHTTP_SOURCE_API
