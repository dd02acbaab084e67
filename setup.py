"""Build for fastnet: one pybind11 extension (``fastnet._C``) over the C++
kernels in ``csrc/``, plus Cython extensions from ``csrc/cython/*.pyx``.

Two things setuptools does not do on its own, done here:

* per-file ISA flags: sources named ``*_avx2.cpp`` / ``*_avx512.cpp`` are
  compiled with the matching ``-m`` flags, everything else for the baseline
  x86-64 (or whatever the host's baseline is), so one wheel carries every
  variant and the best is chosen at import by cpuid;
* parallel, incremental compilation: sources compile on all cores and an
  object newer than its source and every header under ``csrc/`` is reused,
  which keeps the edit-build-test loop short.

``FASTNET_SANITIZE=address,undefined`` builds with the sanitizers (see
``tools/sanitize.sh``); ``FASTNET_DEBUG=1`` builds with ``-O0 -g``.
"""

import os
import platform
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).parent.resolve()
CSRC = ROOT / "csrc"

IS_X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")

ISA_FLAGS = {
    "_avx2": ["-mavx2", "-mfma", "-mf16c"],
    "_avx512": [
        "-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl",
        "-mavx2", "-mfma", "-mf16c", "-mprefer-vector-width=512",
    ],
}


def isa_flags_for(source):
    stem = Path(source).stem
    if not IS_X86:
        return []
    for suffix, flags in ISA_FLAGS.items():
        if stem.endswith(suffix):
            return flags
    return []


def base_compile_args():
    args = ["-std=c++17", "-fvisibility=hidden", "-Wall", "-Wextra",
            "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
    if os.environ.get("FASTNET_DEBUG"):
        args += ["-O0", "-g"]
    else:
        # -g0 overrides the -g in Python's own CFLAGS: without it the debug info makes
        # the extension ~20 MB instead of well under 1 MB (symbols stay for tooling).
        # -fno-math-errno: sqrt never sets errno for us, and with errno GCC will not
        # vectorize a loop that calls it (the optimizer updates ran scalar, 5x slower).
        args += ["-O3", "-g0", "-fno-math-errno"]
    return args + sanitize_args()


def sanitize_args():
    san = os.environ.get("FASTNET_SANITIZE", "").strip()
    if not san:
        return []
    return [f"-fsanitize={san}", "-fno-omit-frame-pointer", "-g", "-fno-sanitize-recover=all"]


def cpp_sources():
    # csrc/cython holds .pyx sources (and the .cpp Cython writes beside them).
    return sorted(str(p.relative_to(ROOT)) for p in CSRC.rglob("*.cpp")
                  if "cython" not in p.relative_to(CSRC).parts)


def header_mtime():
    heads = list(CSRC.rglob("*.h")) + list(CSRC.rglob("*.hpp"))
    return max((p.stat().st_mtime for p in heads), default=0.0)


class FastnetBuildExt(build_ext):
    """build_ext with per-file ISA flags and parallel incremental compiles."""

    def build_extension(self, ext):
        compiler = self.compiler
        original_compile = compiler._compile
        newest_header = header_mtime()

        def compile_one(obj, src, ext_, cc_args, extra_postargs, pp_opts):
            if (not self.force and os.path.exists(obj)
                    and os.path.getmtime(obj) >= max(os.path.getmtime(src), newest_header)):
                return
            flags = list(extra_postargs or [])
            if src.endswith((".cpp", ".cc")):
                flags += isa_flags_for(src)
            else:  # C sources from Cython: drop C++-only flags
                flags = [f for f in flags if not f.startswith("-std=c++")]
            original_compile(obj, src, ext_, cc_args, flags, pp_opts)

        def parallel_compile(sources, output_dir=None, macros=None, include_dirs=None,
                             debug=0, extra_preargs=None, extra_postargs=None, depends=None):
            macros, objects, extra_postargs, pp_opts, build = compiler._setup_compile(
                output_dir, macros, include_dirs, sources, depends, extra_postargs)
            cc_args = compiler._get_cc_args(pp_opts, debug, extra_preargs)
            jobs = max(1, os.cpu_count() or 1)
            with ThreadPoolExecutor(jobs) as pool:
                futures = [pool.submit(compile_one, obj, *build[obj], cc_args, extra_postargs, pp_opts)
                           for obj in objects if obj in build]
                for f in futures:
                    f.result()
            return objects

        compiler.compile = parallel_compile
        super().build_extension(ext)


def extensions():
    import pybind11

    link_args = ["-pthread"] + sanitize_args()
    exts = [
        Extension(
            "fastnet._C",
            sources=cpp_sources(),
            include_dirs=[str(CSRC / "include"), str(CSRC), pybind11.get_include()],
            # Headers too: a header-only edit must rebuild the extension (the per-object
            # check in FastnetBuildExt then recompiles what is older than the header).
            depends=sorted(str(p.relative_to(ROOT)) for p in CSRC.rglob("*.h")),
            language="c++",
            extra_compile_args=base_compile_args(),
            extra_link_args=link_args,
        )
    ]
    pyx = sorted((CSRC / "cython").glob("*.pyx"))
    if pyx:
        from Cython.Build import cythonize

        cy_exts = [
            Extension(
                f"fastnet.{p.stem}",
                sources=[str(p.relative_to(ROOT))],
                include_dirs=[str(CSRC / "include"), str(CSRC)],
                language="c++",
                extra_compile_args=base_compile_args(),
                extra_link_args=link_args,
            )
            for p in pyx
        ]
        exts += cythonize(
            cy_exts,
            compiler_directives={"language_level": "3", "boundscheck": False,
                                 "wraparound": False, "cdivision": True},
            quiet=True,
        )
    return exts


setup(
    ext_modules=extensions(),
    cmdclass={"build_ext": FastnetBuildExt},
)
