import FuzzSupport

// (A closure, not `fuzzFrames` itself: referring to the `@_cdecl` function as a C function pointer
// from this file would emit its C symbol a second time.)
runFuzzTarget { data, count in fuzzFrames(data, count) }
