/*
 * Linked into the Linux prebuilt binary only (scripts/build-prebuilds.cjs), which carries its own
 * copy of libstdc++. GCC 12's libstdc++.a, built against glibc 2.36, calls arc4random from
 * std::random_device; metatask never uses std::random_device, but the reference alone would make
 * the binary refuse to load on any glibc older than 2.36. This hidden definition (getrandom(2),
 * through syscall() so that no newer glibc symbol is needed) satisfies it inside the binary.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

__attribute__((visibility("hidden"))) uint32_t arc4random(void) {
  uint32_t v;
  for (;;) {
    long n = syscall(SYS_getrandom, &v, sizeof v, 0);
    if (n == (long)sizeof v) return v;
    if (n < 0 && errno != EINTR) abort(); /* as glibc's arc4random does when no randomness is available */
  }
}
