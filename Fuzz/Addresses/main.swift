import FuzzSupport

// (A closure, not `fuzzAddresses` itself: referring to the `@_cdecl` function as a C function pointer
// from this file would emit its C symbol a second time.)
runFuzzTarget { data, count in fuzzAddresses(data, count) }
