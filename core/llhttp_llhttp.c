/* Compiles llhttp's llhttp.c from the node-llhttp package (see configure). */
#include LLHTTP_SOURCE_LLHTTP
