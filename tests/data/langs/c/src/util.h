#ifndef UTIL_H
#define UTIL_H
int util_run(void *p);
#endif
