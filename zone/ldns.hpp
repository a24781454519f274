#pragma once

// ldns/common.h defines bool, true and false as macros unless stdbool.h was included first; in C++
// stdbool.h only marks them as defined, so including it here keeps the standard headers intact.
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers)

#include <ldns/ldns.h>
