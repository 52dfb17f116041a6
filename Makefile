# Shoal: the three commands of the original project, plus a few helpers.
.PHONY: build run test bench protos clean

build:
	swift build

# The original three-node demo (ports 3000, 4000, 5000), in one process with temp dirs.
run:
	swift run shoal demo

# Every test: the Swift test suite, the C interop check against a real node, and the web UI in a
# headless browser (each of the last two says plainly when it skipped for a missing package).
test:
	swift build --build-tests
	swift test --skip-build
	bash Protocol/interop/run.sh
	bash Scripts/embed-webui.sh --check
	bash Tests/browser/run.sh

bench:
	swift run -c release shoal-bench

protos:
	bash Scripts/generate-protos.sh

clean:
	rm -rf .build Protocol/interop/build
