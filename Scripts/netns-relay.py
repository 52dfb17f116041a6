#!/usr/bin/env python3
"""Joins two TAP devices like a cable with a delay and a loss rate: every Ethernet frame read from
one is written to the other after DELAY milliseconds, unless it is dropped (probability LOSS).

Used by Scripts/netns-cluster.sh, only for its test bed, where `tc netem` is not available: the
two halves of the cluster sit on two bridges, and this relay is the one link between them.
A side whose TAP device is down takes nothing: frames for it are discarded, as on a cut cable.

    netns-relay.py TAP_A TAP_B [--delay MS] [--jitter MS] [--loss FRACTION] [--seed N]

Runs until SIGTERM or SIGINT.
"""
import argparse
import fcntl
import heapq
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
MAX_QUEUED = 4096  # frames waiting for their delay; beyond this, new frames are dropped


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tap_a")
    parser.add_argument("tap_b")
    parser.add_argument("--delay", type=float, default=0.0, help="one-way delay in milliseconds")
    parser.add_argument("--jitter", type=float, default=0.0, help="uniform extra delay up to this, in milliseconds")
    parser.add_argument("--loss", type=float, default=0.0, help="fraction of frames dropped, 0 to 1")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    # Hold nothing the caller opened (pipes it may be reading until they close).
    os.closerange(3, 1024)

    rng = random.Random(args.seed)
    fds = {open_tap(args.tap_a): None, open_tap(args.tap_b): None}
    a, b = list(fds)
    other = {a: b, b: a}
    queue = []  # (due, sequence, fd, frame)
    sequence = 0
    counts = {"forwarded": 0, "lost": 0, "unsent": 0}
    running = True

    def stop(*_):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    while running:
        timeout = 0.5
        if queue:
            timeout = max(0.0, min(timeout, queue[0][0] - time.monotonic()))
        try:
            readable, _, _ = select.select([a, b], [], [], timeout)
        except InterruptedError:
            continue
        for fd in readable:
            # Bounded: a non-blocking read per frame, at most 256 frames per wake-up.
            for _ in range(256):
                try:
                    frame = os.read(fd, 65536)
                except (BlockingIOError, OSError):
                    break
                if not frame:
                    break
                if rng.random() < args.loss or len(queue) >= MAX_QUEUED:
                    counts["lost"] += 1
                    continue
                due = time.monotonic() + (args.delay + rng.random() * args.jitter) / 1000.0
                heapq.heappush(queue, (due, sequence, other[fd], frame))
                sequence += 1
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, fd, frame = heapq.heappop(queue)
            try:
                os.write(fd, frame)
                counts["forwarded"] += 1
            except OSError:
                # The far side's link is down: the frame is lost, as on a cut cable.
                counts["unsent"] += 1
    print("relay: %(forwarded)d frames forwarded, %(lost)d lost, %(unsent)d to a link that was down" % counts,
          file=sys.stderr)


if __name__ == "__main__":
    main()
