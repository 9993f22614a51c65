# SPDX-License-Identifier: MIT
"""Where the package finds libcrosspost ($CROSSPOST_LIBRARY, the source
tree's build folder, the library `make install` installed with it, the
linker's cache), and the errors module's names."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import support
import crosspost as cp
from crosspost import _lib, errors


def probe(pythonpath, **env_changes):
    """Imports crosspost in a fresh python3; returns (status, stdout, stderr)."""
    env = support.child_env()
    env["PYTHONPATH"] = pythonpath
    env.pop("CROSSPOST_LIBRARY", None)
    for k, v in env_changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    r = subprocess.run([sys.executable, "-c", "import crosspost; print(crosspost.library_path)"],
                       capture_output=True, text=True, env=env, timeout=60)
    return r.returncode, r.stdout.strip(), r.stderr


class Loading(unittest.TestCase):
    def test_the_environment_wins(self):
        lib = os.environ["CROSSPOST_LIBRARY"]
        self.assertEqual(probe(support.PYTHON_DIR, CROSSPOST_LIBRARY=lib), (0, lib, ""))

    def test_a_library_that_is_not_there(self):
        rc, out, err = probe(support.PYTHON_DIR, CROSSPOST_LIBRARY="/nonexistent/libcrosspost.so")
        self.assertNotEqual(rc, 0)
        self.assertIn("ImportError: crosspost: cannot load /nonexistent/libcrosspost.so", err)

    def test_the_source_tree_uses_its_build_folder(self):
        built = os.path.join(support.TOP, "build", "libcrosspost.so")
        if not os.path.exists(built):
            self.skipTest("build/libcrosspost.so is not built")
        self.assertEqual(probe(support.PYTHON_DIR), (0, built, ""))

    def test_an_installed_package_uses_the_library_installed_with_it(self):
        site = tempfile.mkdtemp(prefix="crosspost-site.")
        self.addCleanup(shutil.rmtree, site)
        shutil.copytree(os.path.join(support.PYTHON_DIR, "crosspost"), os.path.join(site, "crosspost"),
                        ignore=shutil.ignore_patterns("__pycache__", "_install.py"))
        # not in a source tree, no _install.py: only the linker's cache is left
        rc, out, err = probe(site, LD_LIBRARY_PATH=None)
        if rc != 0:
            self.assertIn("libcrosspost.so not found", err)
        lib = os.environ["CROSSPOST_LIBRARY"]
        with open(os.path.join(site, "crosspost", "_install.py"), "w") as f:
            f.write(f'LIBRARY = "{lib}"\n')
        self.assertEqual(probe(site), (0, lib, ""))

    def test_versions(self):
        out = subprocess.run([support.CROSSPOST, "--version"], capture_output=True, text=True,
                             env=support.c_program_env()).stdout
        self.assertIn(cp.library_version, out)
        self.assertEqual(cp.__version__, cp.library_version)

    def test_a_function_the_library_lacks_is_not_supported(self):
        stub = _lib._missing("cp_not_yet")
        with self.assertRaises(cp.NotSupportedError) as e:
            stub(1, 2)
        self.assertIn("cp_not_yet", str(e.exception))


class Errors(unittest.TestCase):
    def test_every_code_has_its_class(self):
        for name, code in errors.CODES.items():
            self.assertEqual(_lib.cdll.cp_error_name(code).decode(), name)
            e = errors.from_name(name, "m", code)
            self.assertIsInstance(e, cp.Error)
            self.assertEqual((e.name, e.code, str(e)), (name, code, "m"))
            self.assertEqual(type(e).__module__, "crosspost")
            self.assertIs(getattr(cp, type(e).__name__), type(e))
        self.assertEqual(errors.from_name("SomethingNewError", "m", -99).name, "SomethingNewError")

    def test_builtin_names_are_not_shadowed(self):
        self.assertIs(cp.SyntaxError_.__mro__[2], ValueError)
        self.assertTrue(issubclass(cp.TypeError_, TypeError))
        self.assertTrue(issubclass(cp.TimeoutError_, TimeoutError))
        self.assertTrue(issubclass(cp.NetworkError, ConnectionError))
        self.assertTrue(issubclass(cp.NotFoundError, LookupError))
        self.assertTrue(issubclass(cp.RangeError, ValueError))
        namespace = {}
        exec("from crosspost import *", namespace)
        for builtin in ("SyntaxError", "TypeError", "TimeoutError"):
            self.assertNotIn(builtin, namespace)

    def test_a_library_error_carries_its_message(self):
        with self.assertRaises(cp.SyntaxError_) as e:
            cp.from_tagged_json("{bad")
        self.assertIn("bad JSON at byte", str(e.exception))
        self.assertEqual(repr(e.exception)[:len("crosspost.SyntaxError_(")], "crosspost.SyntaxError_(")


if __name__ == "__main__":
    unittest.main()
