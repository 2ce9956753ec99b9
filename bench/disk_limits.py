"""Engine disk growth when sandboxes fill their disk: `writable_disk` watched, against no limit.

Starts `--parallel` sandboxes of one image at once; each writes `--write-gib` GiB into /testbed
(as the sandbox user, as a hostile test would), in `--files` files of equal size: one file
stops at the limit in the kernel (RLIMIT_FSIZE), many files only when the watch kills them. Reports, per setting, the peak growth of the
Docker data root's filesystem while they ran (sampled every 0.02 s; other writers on the machine
count too), the most any one sandbox wrote (the engine's SizeRw), how each ended (killed at the
limit or done), the wall time, and the growth left once they are removed. The baseline is the
same run with a limit above what they write (the watch never fires: Docker's behaviour).

    python bench/disk_limits.py --image envmine/os:TAG --parallel 3 --write-gib 3 --limit 1g
"""

from __future__ import annotations

import argparse
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from envmine.builders.engine import client
from envmine.builders.sandbox import sandbox
from envmine.settings import Limits

FILL = ("mkdir -p /testbed && for i in $(seq {files}); do "
        "dd if=/dev/zero of=/testbed/envmine-fill-$i.bin bs=1M count={mib} 2>&1 | tail -1; done")


class Peak:
    """The data root filesystem's peak use above its use at the start, and the biggest SizeRw."""

    def __init__(self, image: str):
        self.image, self.root = image, client().info()["DockerRootDir"]
        self.start, self.peak, self.size_rw, self._done = self._used(), 0, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _used(self) -> int:
        return shutil.disk_usage(self.root).used

    def _sample(self) -> None:
        while not self._done.wait(0.02):  # a killed sandbox is gone within ~0.1 s
            self.peak = max(self.peak, self._used() - self.start)
            for found in client().api.containers(size=True, filters={"ancestor": self.image}):
                self.size_rw = max(self.size_rw, int(found.get("SizeRw") or 0))

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return self._used() - self.start


def one(image: str, limit: str, mib: int, files: int) -> str:
    with sandbox(image, Limits(writable_disk=limit, timeout_s=600), user="root") as box:
        result = box.exec(FILL.format(mib=mib // files, files=files), timeout_s=600, workdir="/")
        return result.limit or ("wrote all" if result.output.count("copied") == files else result.output[-80:])


def measure(image: str, parallel: int, mib: int, limit: str, files: int) -> dict:
    peak, start = Peak(image), time.monotonic()
    with ThreadPoolExecutor(parallel) as pool:
        ends = list(pool.map(lambda _: one(image, limit, mib, files), range(parallel)))
    wall = time.monotonic() - start
    left = peak.stop()
    return {"limit": limit, "ends": ends, "peak_gib": peak.peak / 2**30, "max_size_rw_gib": peak.size_rw / 2**30,
            "left_gib": left / 2**30, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True)
    parser.add_argument("--parallel", type=int, default=3)
    parser.add_argument("--write-gib", type=float, default=3.0)
    parser.add_argument("--limit", default="1g")
    parser.add_argument("--files", type=int, nargs="+", default=[1], help="files per sandbox, one row each")
    args = parser.parse_args()
    mib = int(args.write_gib * 1024)
    print("| writable_disk | sandboxes | each writes | ends | peak data-root growth | max SizeRw | left after | wall |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for limit, files in [(f"{mib * 2}m", 1)] + [(args.limit, n) for n in args.files]:  # baseline: a limit nothing reaches
        row = measure(args.image, args.parallel, mib, limit, files)
        print(f"| {row['limit']} | {args.parallel} | {args.write_gib:g} GiB in {files} file{'s' * (files > 1)} "
              f"| {', '.join(row['ends'])} "
              f"| {row['peak_gib']:.2f} GiB | {row['max_size_rw_gib']:.2f} GiB | {row['left_gib']:.2f} GiB "
              f"| {row['wall_s']:.1f} s |")


if __name__ == "__main__":
    main()
