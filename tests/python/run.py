"""Runs every tests/python/test_*.py with unittest and prints one line per test:
"PASS <label> <test>", "FAIL <label> <test>" (followed by the traceback) or "SKIP <label> <test>: why".
INFO lines printed by tests go through unchanged. Exit status 1 if anything failed.
usage: python3 tests/python/run.py LABEL"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, HERE)


class LineResult(unittest.TextTestResult):
    def __init__(self, label, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.label = label

    def _name(self, test):
        return "%s %s" % (self.label, test.id().replace("test_", "", 1))

    def addSuccess(self, test):
        super().addSuccess(test)
        print("PASS", self._name(test), flush=True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        print("FAIL", self._name(test), flush=True)
        print(self._exc_info_to_string(err, test), flush=True)

    def addError(self, test, err):
        super().addError(test, err)
        print("FAIL", self._name(test), "(error)", flush=True)
        print(self._exc_info_to_string(err, test), flush=True)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        print("SKIP %s: %s" % (self._name(test), reason), flush=True)


def main():
    label = sys.argv[1] if len(sys.argv) > 1 else "py%d.%d" % sys.version_info[:2]
    os.chdir(ROOT)
    suite = unittest.defaultTestLoader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    with open(os.devnull, "w") as null:
        runner = unittest.TextTestRunner(stream=null, verbosity=0,
                                         resultclass=lambda *a, **k: LineResult(label, *a, **k))
        result = runner.run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
