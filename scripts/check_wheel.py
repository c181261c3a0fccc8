#!/usr/bin/env python3
"""Check a built wheel before it is published.

Usage: ``python scripts/check_wheel.py [--tag cp311-abi3] WHEEL``

For every wheel: the interpreter and ABI tags are the expected ones (``cp311-abi3`` by
default; ``--tag cp314-cp314t`` for the free-threaded wheel) and the file is under
4 MiB. For a Linux wheel, also:

* its platform tag is ``manylinux_*`` or ``musllinux_*`` (never a bare ``linux_*``,
  which PyPI refuses and which means the wheel was never audited);
* ``auditwheel show`` finds it consistent with a policy no stricter than the one the
  wheel claims (a wheel must not promise more compatibility than its symbols allow);
* nothing was grafted into a ``*.libs/`` directory (on musl, but for libgcc_s);
* ``ldd`` on the extracted ``_core`` module lists only the C runtime: libgit2, zlib,
  OpenSSL and libssh2 are linked statically or not at all, so a user needs nothing
  beyond libc.

Run it on a runner of the wheel's own architecture and libc: ``ldd`` loads the module.
Exits 0 when every check passes, 1 after printing every failure, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import re
import subprocess
import sys
import tempfile
import zipfile

MAX_SIZE = 4 * 1024 * 1024

# What `ldd` may list: the C runtime of glibc and musl systems, nothing else.
ALLOWED_LIBRARIES = re.compile(
    r"^(linux-vdso|linux-gate|ld-linux[-\w.]*|ld64|ld-musl-\w+|libc\.musl-\w+"
    r"|libc|libm|libpthread|libdl|librt|libgcc_s)\.so(\.[\d.]+)?$"
)
# musllinux policies whitelist only libc, so auditwheel (and maturin's own repair) must
# ship the unwinder that Rust's musl cdylibs link: a hashed copy in `<dist>.libs/`.
GRAFTED_UNWINDER = re.compile(r"^libgcc_s-[0-9a-f]+\.so(\.\d+)*$")
# Named in the failure message, because each one means a vendoring feature regressed.
FORBIDDEN_LIBRARIES = re.compile(r"^(libssl|libcrypto|libssh2|libgit2|libz)[.-]")

# Legacy manylinux aliases (PEP 600) and the glibc versions they stand for.
LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
PLATFORM_TAG = re.compile(
    r"^(?P<family>manylinux|musllinux)_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.+)$"
)
# The machine names `platform.machine()` reports, per wheel architecture tag.
HOST_MACHINES = {
    "x86_64": {"x86_64", "amd64"},
    "aarch64": {"aarch64", "arm64"},
    "i686": {"i386", "i486", "i586", "i686"},
}


class WheelName:
    """The parts of a wheel file name (PEP 427)."""

    def __init__(self, path: pathlib.Path) -> None:
        parts = path.name.removesuffix(".whl").split("-")
        if not path.name.endswith(".whl") or len(parts) not in (5, 6):
            raise ValueError(f"{path.name} is not a wheel file name (name-version-py-abi-plat.whl)")
        self.distribution = parts[0]
        self.version = parts[1]
        self.python, self.abi, platforms = parts[-3:]
        self.platforms = platforms.split(".")

    @property
    def is_linux(self) -> bool:
        return any("linux" in p for p in self.platforms)


def parse_platform(tag: str) -> tuple[str, tuple[int, int], str] | None:
    """``manylinux_2_17_x86_64`` -> ``("manylinux", (2, 17), "x86_64")``; None if not one."""
    for alias, version in LEGACY_MANYLINUX.items():
        if tag.startswith(alias + "_"):
            return "manylinux", version, tag.removeprefix(alias + "_")
    match = PLATFORM_TAG.match(tag)
    if match is None:
        return None
    version = (int(match["major"]), int(match["minor"]))
    return match["family"], version, match["arch"]


def format_platform(family: str, version: tuple[int, int], arch: str) -> str:
    return f"{family}_{version[0]}_{version[1]}_{arch}"


def check_tags(wheel: WheelName, expected: str, failures: list[str]) -> list[tuple]:
    """Check the interpreter/ABI tag and, for Linux, the platform tags; returns the latter."""
    actual = f"{wheel.python}-{wheel.abi}"
    print(f"tag:      {actual}-{'.'.join(wheel.platforms)}")
    if actual != expected:
        failures.append(f"interpreter/ABI tag is {actual}, expected {expected}")
    if not wheel.is_linux:
        return []
    parsed = [parse_platform(p) for p in wheel.platforms]
    bad = [p for p, q in zip(wheel.platforms, parsed, strict=True) if q is None]
    if bad:
        failures.append(
            f"platform tag(s) {', '.join(bad)} are not manylinux_*/musllinux_*: "
            "build in a manylinux or musllinux container (maturin-action `manylinux:`)"
        )
    # manylinux2014_x86_64 and manylinux_2_17_x86_64 are one promise, not two.
    return sorted({q for q in parsed if q is not None})


def check_size(path: pathlib.Path, failures: list[str]) -> None:
    size = path.stat().st_size
    print(f"size:     {size} bytes ({size / 2**20:.2f} MiB; limit {MAX_SIZE // 2**20} MiB)")
    if size >= MAX_SIZE:
        failures.append(f"wheel is {size} bytes, not under {MAX_SIZE} (4 MiB)")


def check_auditwheel(path: pathlib.Path, claimed: list[tuple], failures: list[str]) -> None:
    """Run ``auditwheel show`` and compare its platform tag with the wheel's."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "auditwheel", "show", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        failures.append(f"could not run auditwheel: {exc}")
        return
    # auditwheel wraps its prose at 80 columns, quoted tag included on some versions.
    text = " ".join((proc.stdout + proc.stderr).split())
    if "No module named auditwheel" in text:
        failures.append("auditwheel is not installed: pip install auditwheel")
        return
    match = re.search(r'consistent with the following platform tag: "([^"]+)"', text)
    if proc.returncode != 0 or match is None:
        # On a crash only the exception line says anything; the traceback would bury it.
        lines = (proc.stderr or proc.stdout).strip().splitlines() or ["no output"]
        failures.append(f"auditwheel show failed (exit {proc.returncode}): {lines[-1]}")
        return
    audited_tag = match.group(1)
    print(f"auditwhl: consistent with {audited_tag}")
    audited = parse_platform(audited_tag)
    if audited is None:
        failures.append(f"auditwheel reports {audited_tag}, not a manylinux/musllinux tag")
        return
    if not claimed:
        return
    family, version, arch = audited
    # The wheel's promise is its most permissive tag: every claimed tag must be satisfied.
    for claim in claimed:
        if claim[0] != family or claim[2] != arch:
            failures.append(
                f"wheel claims {format_platform(*claim)}, auditwheel says {audited_tag}"
            )
        elif claim[1] < version:
            failures.append(
                f"wheel claims {format_platform(*claim)} but its symbols need {audited_tag}: "
                "build it in an older manylinux/musllinux image"
            )


def check_libs(path: pathlib.Path, musl: bool, failures: list[str]) -> None:
    """ldd the ``_core`` extension module; only the C runtime may show up."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        grafted = sorted(
            n
            for n in names
            if n.split("/")[0].endswith(".libs")
            and not n.endswith("/")
            and not (musl and GRAFTED_UNWINDER.match(os.path.basename(n)))
        )
        if grafted:
            failures.append(f"shared libraries were grafted into the wheel: {', '.join(grafted)}")
        modules = [n for n in names if re.fullmatch(r"[\w/]*/_core[\w.-]*\.so", n)]
        if len(modules) != 1:
            failures.append(f"expected one _core*.so in the wheel, found {modules or 'none'}")
            return
        with tempfile.TemporaryDirectory() as tmp:
            module = pathlib.Path(archive.extract(modules[0], tmp))
            try:
                proc = subprocess.run(
                    ["ldd", str(module)], capture_output=True, text=True, check=False
                )
            except OSError as exc:
                failures.append(f"could not run ldd: {exc}")
                return
    print(f"ldd:      {modules[0]}")
    output = proc.stdout + proc.stderr
    for line in output.splitlines():
        print(f"          {line.strip()}")
    if proc.returncode != 0:
        failures.append(
            f"ldd failed (exit {proc.returncode}); run this script on a runner of the "
            "wheel's architecture and libc"
        )
        return
    for line in output.splitlines():
        line = line.strip()
        if not line:
            continue
        if "not found" in line or "Error loading" in line:
            failures.append(f"unresolved dependency: {line}")
            continue
        library = os.path.basename(line.split()[0])
        if FORBIDDEN_LIBRARIES.match(library):
            failures.append(f"links {library} dynamically: it must be vendored statically")
        elif musl and GRAFTED_UNWINDER.match(library):
            continue
        elif not ALLOWED_LIBRARIES.match(library):
            failures.append(f"links {library}, which is not part of the C runtime")


def host_matches(arch: str) -> bool:
    return platform.machine().lower() in HOST_MACHINES.get(arch, {arch})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=pathlib.Path, metavar="WHEEL")
    parser.add_argument(
        "--tag",
        default="cp311-abi3",
        help="expected interpreter-ABI tag (default: cp311-abi3; cp314-cp314t for free-threaded)",
    )
    options = parser.parse_args(argv)
    path: pathlib.Path = options.wheel
    if not path.is_file():
        print(f"check_wheel: {path}: no such file", file=sys.stderr)
        return 2
    try:
        wheel = WheelName(path)
    except ValueError as exc:
        print(f"check_wheel: {exc}", file=sys.stderr)
        return 2

    failures: list[str] = []
    print(f"wheel:    {path.name}")
    claimed = check_tags(wheel, options.tag, failures)
    check_size(path, failures)
    if wheel.is_linux:
        if not sys.platform.startswith("linux"):
            failures.append("a Linux wheel must be checked on Linux (auditwheel, ldd)")
        else:
            check_auditwheel(path, claimed, failures)
            arches = {claim[2] for claim in claimed}
            if arches and not all(host_matches(arch) for arch in arches):
                failures.append(
                    f"this machine is {platform.machine()}, the wheel is for "
                    f"{', '.join(sorted(arches))}: ldd needs a runner of the wheel's architecture"
                )
            else:
                check_libs(path, any(c[0] == "musllinux" for c in claimed), failures)
    else:
        print("platform: not a Linux wheel: auditwheel and ldd checks do not apply")

    if failures:
        sys.stdout.flush()
        print(f"\nFAILED: {path.name}", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    print(f"\nOK: {path.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
