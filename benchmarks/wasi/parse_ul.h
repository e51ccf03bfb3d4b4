/* Shared by the WASI benchmark programs: a decimal argument as an unsigned
 * long. strtoul would pull in __multi3 (compiler-rt, which Debian lacks for
 * wasm32). */
#ifndef PARSE_UL_H
#define PARSE_UL_H

static unsigned long parse_ul(const char *s) {
    unsigned long v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (unsigned long)(*s++ - '0');
    return v;
}

#endif
