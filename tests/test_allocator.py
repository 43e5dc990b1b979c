"""The CLI's allocation policy: large tensors come from the heap, and a freed one's memory
stays in the process (glibc's malloc statistics, in fresh processes)."""

import json
import subprocess
import sys

import pytest

# the first 16 MiB tensor of a fresh process: bytes glibc mapped for it apart from the heap
# (mallinfo2's hblkhd), and the heap's size while it lives and after it is freed
SCRIPT = """
import ctypes, json, sys, torch
from inflationary_flows.allocator import keep_freed_memory

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in "arena ordblks smblks hblks hblkhd usmblks "
                "fsmblks uordblks fordblks keepcost".split()]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
if sys.argv[1] == "keep":
    assert keep_freed_memory()
if sys.argv[1] == "cli":  # a step that fails on its input, after the CLI chose the policy
    from inflationary_flows.cli import main
    assert main(["pca", "--data", "no-such-file.h5", "--output", "unused.h5"]) == 1
before = libc.mallinfo2()
x = torch.ones(2**21, dtype=torch.float64)
alive = libc.mallinfo2()
del x
freed = libc.mallinfo2()
print(json.dumps({"mapped": alive.hblkhd - before.hblkhd, "heap_alive": alive.arena,
                  "heap_freed": freed.arena}))
"""
MIB16 = 2**24


def allocation(policy: str, cwd=None) -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT, policy], capture_output=True, text=True,
                         check=True, cwd=cwd)
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt, mallinfo2")
def test_large_blocks_come_from_the_heap_and_stay():
    default, kept = allocation("default"), allocation("keep")
    # glibc's default: a fresh mapping, unmapped again when freed
    assert default["mapped"] >= MIB16
    # kept: from the heap, which keeps its size after the free
    assert kept["mapped"] < MIB16 // 16
    assert kept["heap_alive"] >= MIB16 and kept["heap_freed"] == kept["heap_alive"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt, mallinfo2")
def test_the_cli_sets_the_kept_policy_before_a_step_runs(tmp_path):
    """The CLI sets the policy before a step runs (here one that stops at its missing input)."""
    cli = allocation("cli", cwd=tmp_path)
    assert cli["mapped"] < MIB16 // 16 and cli["heap_freed"] == cli["heap_alive"] >= MIB16
    assert not (tmp_path / "unused.h5").exists()
