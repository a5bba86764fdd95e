/* SwiftPM builds a C target from at least one source file; the barrier itself
 * is the inline function in include/srh_bench_support.h. */
#include "srh_bench_support.h"
