"""No leaks across the wrapper: every C object created through a counting allocator (Python ctypes
callbacks) is freed by close()/with/__del__; every allocation failure raises QlowError(NO_MEMORY) and
leaves nothing allocated; repeated journeys do not grow Python memory (tracemalloc)."""
import gc
import os
import unittest

import qlow
from helpers import tracemalloc_growth, ROOT, Stream, info

MODEL = os.path.join(ROOT, "data", "stories260K.bin")
TOKENIZER = os.path.join(ROOT, "data", "tok512.bin")
W = [list(Stream(2).floats(64)) for _ in range(8)]


def quantize_with(alloc):
    with qlow.Ctx(allocator=alloc) as ctx:
        qm = qlow.quantize(W, ctx=ctx, bits=4, group_cols=32)
        try:
            with qlow.QMatrix.wrap(qm.serialize(), ctx=ctx):
                return qm
        except BaseException:
            qm.close()
            raise


def hessian_with(alloc):
    with qlow.Hessian(64, allocator=alloc) as h, qlow.Ctx(allocator=alloc) as ctx:
        h.add(W)
        h.top_eigen(ctx=ctx)
        h.cholesky(ctx=ctx)
    return None


def model_with(alloc):
    with qlow.Model(MODEL, allocator=alloc) as m:
        m.read("norm")
    return None


def tokenizer_with(alloc):
    with qlow.Tokenizer(TOKENIZER, allocator=alloc) as t:
        t.encode("Once upon a time")
    return None


def qfile_with(alloc):
    qm = qlow.quantize(W, bits=4, group_cols=32)
    w = qlow.QFileWriter(capacity=1 << 16, allocator=alloc)
    try:
        w.add_packed("w", qm)
        w.set_meta("k", 1)
        w.finish()
        return w
    except BaseException:
        w.close()
        raise


def gptq_with(alloc):
    with qlow.Ctx(allocator=alloc) as ctx, qlow.Hessian(64, allocator=alloc) as h:
        h.add(W)
        qm = qlow.gptq_quantize(W, h, ctx=ctx, bits=4, group_cols=32)
        qm.close()
    return None


def plan_with(alloc):
    qlow.plan.solve([[1, 2], [1, 2]], [[3, 1], [3, 1]], 3.5, allocator=alloc)
    return None


CASES = [("quantize+wrap", quantize_with), ("hessian", hessian_with), ("model", model_with),
         ("tokenizer", tokenizer_with), ("qfile writer", qfile_with), ("plan", plan_with), ("gptq", gptq_with)]


class TestLeaks(unittest.TestCase):
    def test_counting_allocator_balanced(self):
        for name, make in CASES:
            alloc = qlow.CountingAllocator()
            for _ in range(5):
                obj = make(alloc)
                if obj is not None:
                    obj.close()
            self.assertEqual((alloc.live, alloc.bytes_live, alloc.errors), (0, 0, []), name)
            self.assertGreater(alloc.total, 0, name)

    def test_del_frees(self):
        alloc = qlow.CountingAllocator()
        objs = [qlow.Hessian(64, allocator=alloc), qlow.Model(MODEL, allocator=alloc),
                qlow.Tokenizer(TOKENIZER, allocator=alloc), quantize_with(alloc), qfile_with(alloc)]
        self.assertGreaterEqual(alloc.live, 4)
        del objs
        gc.collect()
        self.assertEqual(alloc.live, 0)

    def test_every_allocation_failure(self):
        points = {}
        for name, make in CASES:
            k = 1
            while True:
                alloc = qlow.CountingAllocator(fail_at=k)
                try:
                    obj = make(alloc)
                except qlow.QlowError as exc:
                    self.assertEqual(exc.code, qlow.QLOW_E_NO_MEMORY, "%s, failing allocation %d" % (name, k))
                    gc.collect()
                    self.assertEqual(alloc.live, 0, "%s leaked after failing allocation %d" % (name, k))
                    k += 1
                    continue
                if obj is not None:
                    obj.close()
                self.assertEqual(alloc.live, 0, name)
                break
            points[name] = k - 1
        info("allocation failure points exercised: %s",
             ", ".join("%s %d" % kv for kv in sorted(points.items())))

    def test_tracemalloc_journeys(self):
        def cycle():
            alloc = qlow.CountingAllocator()
            for _, make in CASES:
                obj = make(alloc)
                if obj is not None:
                    obj.close()
            qm = qlow.quantize(W, scheme="binary")
            qm.dequantize()
            qm.close()
            try:
                qlow.quantize([[float("nan")] * 32])
            except qlow.QlowError:
                pass
            try:
                qlow.hvp_top_eigen(lambda v, o: 1 / 0, 4)
            except ZeroDivisionError:
                pass
        grown = tracemalloc_growth(cycle, 5)
        info("tracemalloc growth over 5 full create/use/destroy journeys: %d bytes", grown)
        self.assertLess(grown, 64 * 1024)


if __name__ == "__main__":
    unittest.main()
