"""Imported by the Python of every nova-compute given this folder on PYTHONPATH (the
harness does so on nodes with neutron's agents): nova loads its driver only from its own
`nova.virt` package, so this makes `nova.virt.ovs_plugging` this folder's module, without
touching the release's virtualenv (shared by every run of that release)."""

import importlib.abc
import importlib.util
import pathlib
import sys

_NAME = "nova.virt.ovs_plugging"
_FILE = pathlib.Path(__file__).with_name("ovs_plugging.py")


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_file_location(name, _FILE) if name == _NAME else None


sys.meta_path.append(_Finder())  # last: nova's own modules are found as ever
