"""The CLI's allocation policy: a freed large tensor's pages stay in the process."""

import subprocess
import sys

import pytest

from inflationary_flows.allocator import keep_freed_memory

# a 16 MiB float64 tensor, freed, then allocated and written again: page faults of the second
SCRIPT = """
import resource, sys, torch
from inflationary_flows.allocator import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
torch.ones(2**21, dtype=torch.float64)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
torch.ones(2**21, dtype=torch.float64)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(policy: str) -> int:
    out = subprocess.run([sys.executable, "-c", SCRIPT, policy], capture_output=True, text=True,
                         check=True)
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_blocks_stay_mapped():
    assert keep_freed_memory()
    pages = 2**24 // 4096
    assert faults("default") >= pages // 2  # glibc unmaps the freed block: faulted in again
    assert faults("keep") < pages // 16  # reused from the heap
