// FUZZ_CHECK: a property every input must keep. Unlike assert() it stays on
// in release builds, and abort() is what libFuzzer reports as a crash (with
// the input saved as an artifact).
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
