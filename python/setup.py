"""Build the wheel: the Rust core as a bare cdylib (setuptools-rust) plus cffi's compiled reading of
its header (cffi's out-of-line ABI mode: a pure-Python ``ftplens/_ffi.py``, no C compiler). Everything
declarative is in pyproject.toml; this file holds what setuptools can only take from code."""

from setuptools import setup
from setuptools_rust import Binding, RustExtension, Strip

try:  # setuptools >= 70.1 ships bdist_wheel; older ones take it from the wheel package
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # pragma: no cover
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]


class PlatformWheel(bdist_wheel):  # type: ignore[misc]
    """The library calls no Python C API (it is loaded with cffi's dlopen), so one wheel serves every
    Python 3 on a platform: tag it py3-none-<platform>, not cpXY-cpXY-<platform>."""

    def get_tag(self) -> "tuple[str, str, str]":
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(
    rust_extensions=[
        RustExtension(
            # A plain shared library, named like an extension module inside the package.
            "ftplens._libftplens",
            path="../Cargo.toml",
            binding=Binding.NoBinding,
            # No Python C API is used: name the file _libftplens.abi3.so rather than after one CPython.
            py_limited_api=True,
            # The release profile keeps line tables for the project's profilers; a wheel needs none.
            strip=Strip.Debug,
            # Default features: the core with its capture analyser (`cli`), for ftplens.analyze.
        )
    ],
    cffi_modules=["ffi_build.py:ffibuilder"],
    cmdclass={"bdist_wheel": PlatformWheel},
    zip_safe=False,
)
