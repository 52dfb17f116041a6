# Shoal: the three commands of the original project, plus a few helpers.
.PHONY: build run test bench protos fuzz format clean

build:
	swift build

# The original three-node demo (ports 3000, 4000, 5000), in one process with temp dirs.
run:
	swift run shoal demo

# Every test: the formatting check (`swift format lint`), the Swift test suite, the C interop check
# against a real node, the web UI in a headless browser (each of the last two says plainly when it
# skipped for a missing package), and 20 s of each fuzz target, replaying its seeds and past crashes
# (a debug build, which keeps the dependencies' assertions and builds faster;
# `bash Scripts/fuzz.sh TARGET SECONDS` for long runs).
test:
	bash Scripts/format.sh
	swift build --build-tests
	swift test --skip-build
	bash Protocol/interop/run.sh
	bash Scripts/embed-webui.sh --check
	bash Tests/browser/run.sh
	FUZZ_CONFIG=debug bash Scripts/fuzz.sh all 20

bench:
	swift run -c release shoal-bench

protos:
	bash Scripts/generate-protos.sh

# Each fuzz target for 10 minutes, in a release build.
fuzz:
	bash Scripts/fuzz.sh all 600

# Rewrites every Swift file as .swift-format says (4 spaces, 120 columns).
format:
	bash Scripts/format.sh --fix

clean:
	rm -rf .build .build-fuzz Protocol/interop/build
